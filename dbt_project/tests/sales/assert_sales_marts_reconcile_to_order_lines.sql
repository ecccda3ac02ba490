{{ config(meta={"dagster": {"ref": {"name": "fct_merchant_period_sales"}}}) }}

-- Every sales mart adds up to the order lines. Per merchant, the revenue of each period grain
-- of the merchant, region and channel marts must equal the net line amount of orders placed
-- by as_of and not cancelled by then, plus imported amount-only orders, computed here straight
-- from staging; the SKU and category marts (each grain, each category level) must equal that
-- line amount alone and fct_daily_sales. A row here names the mart that drifted.

with merchants as (
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
),

mart_totals as (
    select 'fct_merchant_period_sales' as mart, merchant_id, period as part, sum(revenue) as revenue, 'revenue' as measure
    from {{ ref('fct_merchant_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_merchant_period_sales', merchant_id, period, sum(sku_revenue), 'sku_revenue'
    from {{ ref('fct_merchant_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_region_period_sales', merchant_id, period, sum(revenue), 'revenue'
    from {{ ref('fct_region_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_channel_period_sales', merchant_id, channel_type || ' ' || period, sum(revenue), 'revenue'
    from {{ ref('fct_channel_period_sales') }}
    group by merchant_id, channel_type, period
    union all
    select 'fct_category_period_sales', merchant_id, 'level ' || category_level || ' ' || period, sum(revenue), 'sku_revenue'
    from {{ ref('fct_category_period_sales') }}
    group by merchant_id, category_level, period
),

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
