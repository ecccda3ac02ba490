-- The effect of each promotion, its SKUs together: sales during it against their baseline,
-- what it cost in discounts, ROI = sales ÷ promotion cost (the platform's definition), the
-- incremental gross profit per unit of cost, and the dip after it ends.

{%- set post_window = var('promotion_post_days') | int %}

with merchants as (
    select merchant_id, merchant_code
    from {{ ref('int_merchants_as_of') }}
),

promotions as (
    select distinct
        promotion_id,
        merchant_id,
        promotion_code,
        promotion_name,
        promotion_kind,
        promotion_scope,
        starts_date,
        ends_date,
        promotion_days,
        observed_days,
        as_of
    from {{ ref('int_promotion_products_scoped') }}
),

skus as (
    select
        promotion_id,
        count(*) as skus,
        min(baseline_days) as baseline_days,
        min(post_days) as post_days,
        sum(sales_quantity) as sales_quantity,
        sum(sales_revenue) as sales_revenue,
        sum(sales_gross_profit) as sales_gross_profit,
        sum(baseline_quantity) as baseline_quantity,
        sum(baseline_revenue) as baseline_revenue,
        sum(baseline_gross_profit) as baseline_gross_profit,
        sum(post_quantity) as post_quantity,
        sum(post_revenue) as post_revenue,
        sum(post_incremental_revenue) as post_incremental_revenue
    from {{ ref('fct_promotion_sku_effects') }}
    group by promotion_id
),

-- The whole discount, including any order-level share that no line in scope could carry.
costs as (
    select discounts.promotion_id, sum(discounts.amount) as promotion_cost
    from {{ ref('stg_postgres__order_discounts') }} as discounts
    where discounts.promotion_id is not null
      and discounts.order_id in (select order_id from {{ ref('int_order_lines_enriched') }})
    group by discounts.promotion_id
)

select
    promotions.merchant_id,
    merchants.merchant_code,
    promotions.promotion_id,
    promotions.promotion_code,
    promotions.promotion_name,
    promotions.promotion_kind,
    promotions.promotion_scope,
    cast(coalesce(skus.skus, 0) as integer) as skus,
    promotions.starts_date,
    promotions.ends_date,
    cast(promotions.promotion_days as integer) as promotion_days,
    cast(promotions.observed_days as integer) as observed_days,
    cast(skus.baseline_days as integer) as baseline_days,
    cast(coalesce(skus.sales_quantity, 0) as integer) as sales_quantity,
    cast(coalesce(skus.sales_revenue, 0) as decimal(18, 2)) as sales_revenue,
    cast(coalesce(skus.sales_gross_profit, 0) as decimal(18, 2)) as sales_gross_profit,
    skus.baseline_quantity,
    cast(skus.baseline_revenue as decimal(18, 2)) as baseline_revenue,
    cast(skus.baseline_gross_profit as decimal(18, 2)) as baseline_gross_profit,
    skus.sales_quantity - skus.baseline_quantity as incremental_quantity,
    cast(skus.sales_revenue - skus.baseline_revenue as decimal(18, 2)) as incremental_revenue,
    cast(skus.sales_gross_profit - skus.baseline_gross_profit as decimal(18, 2)) as incremental_gross_profit,
    {{ safe_ratio('skus.sales_quantity', 'skus.baseline_quantity') }} as uplift_ratio,
    cast(coalesce(costs.promotion_cost, 0) as decimal(18, 2)) as promotion_cost,
    {{ safe_ratio('skus.sales_revenue', 'costs.promotion_cost') }} as roi,
    {{ safe_ratio('skus.sales_gross_profit - skus.baseline_gross_profit', 'costs.promotion_cost') }} as incremental_roi,
    cast(coalesce(skus.post_days, 0) as integer) as post_days,
    cast(coalesce(skus.post_quantity, 0) as integer) as post_quantity,
    cast(coalesce(skus.post_revenue, 0) as decimal(18, 2)) as post_revenue,
    cast(skus.post_incremental_revenue as decimal(18, 2)) as post_incremental_revenue,
    promotions.ends_date <= promotions.as_of as is_complete,
    coalesce(skus.post_days, 0) = {{ post_window }} as is_post_window_complete,
    promotions.as_of
from promotions
inner join merchants on merchants.merchant_id = promotions.merchant_id
left join skus on skus.promotion_id = promotions.promotion_id
left join costs on costs.promotion_id = promotions.promotion_id
