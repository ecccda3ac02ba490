-- The effect of each promotion on each SKU in its scope: sales during it against a baseline,
-- the discount it cost, ROI, and the dip after it ends.
-- Baseline = the SKU's average daily sales over the promotion_baseline_days before the start
-- (days without sales count as zero), × the promotion's observed days. Only days from the
-- merchant's first day of SKU sales count, so a promotion starting on that day has no baseline.
-- Cost = the promotion's discounts on orders not cancelled by as_of: line discounts by their
-- line's SKU, order-level ones (full reduction) shared over the order's lines in scope by net amount.

{%- set baseline_window = var('promotion_baseline_days') | int %}
{%- set post_window = var('promotion_post_days') | int %}

with merchants as (
    select merchant_id, merchant_code
    from {{ ref('int_merchants_as_of') }}
),

products as (
    select product_id, sku_code, category_l3 as category_name
    from {{ ref('dim_products') }}
),

daily as (
    select merchant_id, product_id, sales_date, quantity, revenue, gross_profit
    from {{ ref('fct_daily_sales') }}
),

first_sales as (
    select merchant_id, min(sales_date) as first_sales_date
    from daily
    group by merchant_id
),

windows as (
    select
        scoped.*,
        greatest(scoped.starts_date - {{ baseline_window }}, first_sales.first_sales_date) as baseline_start,
        greatest(
            {{ dbt.datediff(
                "greatest(scoped.starts_date - " ~ baseline_window ~ ", first_sales.first_sales_date)",
                "scoped.starts_date",
                "day"
            ) }},
            0
        ) as baseline_days,
        greatest({{ dbt.datediff("scoped.ends_date", "least(scoped.ends_date + " ~ post_window ~ ", scoped.as_of)", "day") }}, 0) as post_days
    from {{ ref('int_promotion_products_scoped') }} as scoped
    left join first_sales on first_sales.merchant_id = scoped.merchant_id
),

sales as (
    select
        windows.promotion_id,
        windows.product_id,
        {%- for measure in ['quantity', 'revenue', 'gross_profit'] %}
        sum(daily.{{ measure }}) filter (where daily.sales_date between windows.starts_date and windows.ends_date)
            as sales_{{ measure }},
        sum(daily.{{ measure }}) filter (where daily.sales_date < windows.starts_date) as baseline_total_{{ measure }},
        sum(daily.{{ measure }}) filter (where daily.sales_date > windows.ends_date) as post_{{ measure }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from windows
    inner join daily
        on daily.merchant_id = windows.merchant_id
        and daily.product_id = windows.product_id
        and daily.sales_date >= windows.baseline_start
        and daily.sales_date <= windows.ends_date + {{ post_window }}
    group by windows.promotion_id, windows.product_id
),

lines as (
    select order_line_id, order_id, product_id, revenue
    from {{ ref('int_order_lines_enriched') }}
),

discounts as (
    select order_discount_id, promotion_id, order_id, order_line_id, amount
    from {{ ref('stg_postgres__order_discounts') }}
    where promotion_id is not null
      and order_id in (select order_id from lines)
),

line_costs as (
    select discounts.promotion_id, lines.product_id, discounts.amount as cost
    from discounts
    inner join lines on lines.order_line_id = discounts.order_line_id
),

order_costs as (
    select
        discounts.promotion_id,
        lines.product_id,
        discounts.amount * {{ safe_ratio('lines.revenue', 'sum(lines.revenue) over (partition by discounts.order_discount_id)') }}
            as cost
    from discounts
    inner join lines on lines.order_id = discounts.order_id
    inner join windows on windows.promotion_id = discounts.promotion_id and windows.product_id = lines.product_id
    where discounts.order_line_id is null
),

costs as (
    select promotion_id, product_id, sum(cost) as promotion_cost
    from (
        select promotion_id, product_id, cast(cost as double) as cost from line_costs
        union all
        select promotion_id, product_id, cost from order_costs
    )
    group by promotion_id, product_id
),

measured as (
    select
        windows.*,
        coalesce(sales.sales_quantity, 0) as sales_quantity,
        coalesce(sales.sales_revenue, 0) as sales_revenue,
        coalesce(sales.sales_gross_profit, 0) as sales_gross_profit,
        {%- for measure in ['quantity', 'revenue', 'gross_profit'] %}
        case when windows.baseline_days > 0 then
            cast(coalesce(sales.baseline_total_{{ measure }}, 0) as double) / windows.baseline_days
        end as baseline_daily_{{ measure }},
        {%- endfor %}
        coalesce(sales.post_quantity, 0) as post_quantity,
        coalesce(sales.post_revenue, 0) as post_revenue,
        costs.promotion_cost,
        sales.promotion_id is not null or costs.promotion_id is not null as has_activity
    from windows
    left join sales on sales.promotion_id = windows.promotion_id and sales.product_id = windows.product_id
    left join costs on costs.promotion_id = windows.promotion_id and costs.product_id = windows.product_id
)

select
    measured.merchant_id,
    merchants.merchant_code,
    measured.promotion_id,
    measured.promotion_code,
    measured.promotion_kind,
    measured.promotion_scope,
    measured.product_id,
    products.sku_code,
    products.category_name,
    measured.starts_date,
    measured.ends_date,
    cast(measured.promotion_days as integer) as promotion_days,
    cast(measured.observed_days as integer) as observed_days,
    cast(measured.baseline_days as integer) as baseline_days,
    cast(measured.sales_quantity as integer) as sales_quantity,
    cast(measured.sales_revenue as decimal(18, 2)) as sales_revenue,
    cast(measured.sales_gross_profit as decimal(18, 2)) as sales_gross_profit,
    measured.baseline_daily_quantity * measured.observed_days as baseline_quantity,
    {{ decimal_from_double('measured.baseline_daily_revenue * measured.observed_days', 18, 2) }} as baseline_revenue,
    {{ decimal_from_double('measured.baseline_daily_gross_profit * measured.observed_days', 18, 2) }} as baseline_gross_profit,
    measured.sales_quantity - measured.baseline_daily_quantity * measured.observed_days as incremental_quantity,
    {{ decimal_from_double('measured.sales_revenue - measured.baseline_daily_revenue * measured.observed_days', 18, 2) }}
        as incremental_revenue,
    {{ decimal_from_double(
        'measured.sales_gross_profit - measured.baseline_daily_gross_profit * measured.observed_days', 18, 2
    ) }} as incremental_gross_profit,
    {{ safe_ratio('measured.sales_quantity', 'measured.baseline_daily_quantity * measured.observed_days') }}
        as uplift_ratio,
    {{ decimal_from_double('coalesce(measured.promotion_cost, 0)', 18, 2) }} as promotion_cost,
    {{ safe_ratio('measured.sales_revenue', 'measured.promotion_cost') }} as roi,
    {{ safe_ratio(
        'measured.sales_gross_profit - measured.baseline_daily_gross_profit * measured.observed_days',
        'measured.promotion_cost'
    ) }} as incremental_roi,
    cast(measured.post_days as integer) as post_days,
    cast(measured.post_quantity as integer) as post_quantity,
    cast(measured.post_revenue as decimal(18, 2)) as post_revenue,
    {{ decimal_from_double('measured.post_revenue - measured.baseline_daily_revenue * measured.post_days', 18, 2) }}
        as post_incremental_revenue,
    {{ safe_ratio('measured.post_quantity', 'measured.baseline_daily_quantity * measured.post_days') }}
        as post_dip_ratio,
    measured.ends_date <= measured.as_of as is_complete,
    measured.post_days = {{ post_window }} as is_post_window_complete,
    measured.as_of
from measured
inner join merchants on merchants.merchant_id = measured.merchant_id
inner join products on products.product_id = measured.product_id
-- A category- or shop-wide promotion lists the SKUs it touched, not every SKU it could have.
where measured.promotion_scope = 'sku' or measured.has_activity
