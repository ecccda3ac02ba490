{#- Sales periods. A period is named by its grain ('day', 'week', 'month', 'quarter') and its
    first day: weeks are ISO weeks starting on Monday (DuckDB's date_trunc('week')), months and
    quarters start on their calendar first day. -#}

{#- The grains as a one-column relation to cross join with daily rows; `grains` defaults to all
    four (the SKU marts leave out 'day', which fct_daily_sales already is). -#}
{% macro sales_periods(grains=["day", "week", "month", "quarter"]) -%}
    (values {% for grain in grains %}('{{ grain }}'){{ ", " if not loop.last }}{% endfor %}) as periods (period)
{%- endmacro %}

{% macro sales_period_start(period, date_column) -%}
    case {{ period }}
        when 'day' then {{ date_column }}
        when 'week' then cast(date_trunc('week', {{ date_column }}) as date)
        when 'month' then cast(date_trunc('month', {{ date_column }}) as date)
        when 'quarter' then cast(date_trunc('quarter', {{ date_column }}) as date)
    end
{%- endmacro %}

{#- The period's last day (inclusive). -#}
{% macro sales_period_end(period, period_start) -%}
    case {{ period }}
        when 'day' then {{ period_start }}
        when 'week' then {{ period_start }} + 6
        when 'month' then last_day({{ period_start }})
        when 'quarter' then cast({{ period_start }} + interval 3 month as date) - 1
    end
{%- endmacro %}

{#- The first day of the period before. -#}
{% macro sales_previous_period_start(period, period_start) -%}
    case {{ period }}
        when 'day' then {{ period_start }} - 1
        when 'week' then {{ period_start }} - 7
        when 'month' then cast({{ period_start }} - interval 1 month as date)
        when 'quarter' then cast({{ period_start }} - interval 3 month as date)
    end
{%- endmacro %}

{#- The period columns every sales mart carries, in this order: period, period_start,
    period_end, is_complete_period (ended on or before as_of), as_of. -#}
{% macro sales_period_columns(period, period_start, as_of) -%}
    {{ period }} as period,
    {{ period_start }} as period_start,
    {{ sales_period_end(period, period_start) }} as period_end,
    {{ sales_period_end(period, period_start) }} <= {{ as_of }} as is_complete_period,
    {{ as_of }} as as_of
{%- endmacro %}

{#- The revenue every sales mart must add up to, per merchant, straight from staging: the net line
    amount of orders placed by as_of and not cancelled by then (sku_revenue), plus imported
    amount-only orders (revenue). CTEs ending with `expected`, for the reconciliation tests. -#}
{% macro expected_sales_revenue_ctes() %}
merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

counted_orders as (
    select orders.order_id, orders.merchant_id, orders.total_amount
    from {{ ref('stg_postgres__orders') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date <= merchants.as_of
      and (orders.cancelled_date is null or orders.cancelled_date > merchants.as_of)
),

line_amounts as (
    select counted_orders.merchant_id, sum(lines.line_amount) as line_amount
    from {{ ref('stg_postgres__order_lines') }} as lines
    inner join counted_orders on counted_orders.order_id = lines.order_id
    group by counted_orders.merchant_id
),

amount_only as (
    select merchant_id, sum(total_amount) as amount
    from counted_orders
    where order_id not in (select order_id from {{ ref('stg_postgres__order_lines') }})
    group by merchant_id
),

expected as (
    select
        merchants.merchant_id,
        coalesce(line_amounts.line_amount, 0) as sku_revenue,
        coalesce(line_amounts.line_amount, 0) + coalesce(amount_only.amount, 0) as revenue
    from merchants
    left join line_amounts on line_amounts.merchant_id = merchants.merchant_id
    left join amount_only on amount_only.merchant_id = merchants.merchant_id
)
{% endmacro %}

{#- The reconciliation tests' verdict: every (mart, part, measure) of the test's `mart_totals` CTE
    (mart, part, measure, merchant_id, revenue), checked for every merchant of `expected`; a row
    per mismatch. It follows the test's last CTE and its comma. -#}
{% macro sales_revenue_mismatches() %}
-- Every check for every merchant, so a mart missing a merchant's rows shows up too.
checks as (
    select distinct mart, part, measure
    from mart_totals
),

compared as (
    select
        checks.mart,
        checks.part,
        checks.measure,
        expected.merchant_id,
        case checks.measure when 'revenue' then expected.revenue else expected.sku_revenue end as expected_revenue,
        mart_totals.revenue as mart_revenue
    from expected
    cross join checks
    left join mart_totals
        on mart_totals.merchant_id = expected.merchant_id
        and mart_totals.mart = checks.mart
        and mart_totals.part = checks.part
        and mart_totals.measure = checks.measure
)

select *
from compared
where coalesce(mart_revenue, 0) <> expected_revenue
{% endmacro %}
