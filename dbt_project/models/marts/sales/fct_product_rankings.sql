-- Product ranking per merchant × week (ISO, from Monday), month and quarter: every SKU that
-- sold in the period or is active with stock on hand at its end (at as_of while it runs), so
-- SKUs that sold nothing are ranked too. Ranks use rank(): tied SKUs share a rank and the next
-- rank is skipped. Hot sellers: revenue > 0 and a revenue rank within the top
-- var hot_seller_share of the period's ranked SKUs. Slow sellers: not hot, active with stock,
-- and either no sales or a place within the bottom var slow_seller_share (ranked from the
-- bottom, so ties at either boundary all fall inside it).

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

sales as (
    select
        merchant_id,
        product_id,
        sku_code,
        sku_name,
        period,
        period_start,
        quantity,
        revenue
    from {{ ref('fct_sku_period_sales') }}
),

stocked as (
    select
        merchant_id,
        product_id,
        sku_code,
        sku_name,
        period,
        period_start,
        period_end_on_hand
    from {{ ref('int_product_periods_stocked') }}
),

listed as (
    select
        coalesce(sales.merchant_id, stocked.merchant_id) as merchant_id,
        coalesce(sales.product_id, stocked.product_id) as product_id,
        coalesce(sales.sku_code, stocked.sku_code) as sku_code,
        coalesce(sales.sku_name, stocked.sku_name) as sku_name,
        coalesce(sales.period, stocked.period) as period,
        coalesce(sales.period_start, stocked.period_start) as period_start,
        coalesce(sales.quantity, 0) as quantity,
        coalesce(sales.revenue, 0) as revenue,
        coalesce(stocked.period_end_on_hand, 0) as period_end_on_hand,
        stocked.product_id is not null as is_stocked
    from sales
    full outer join stocked
        on stocked.merchant_id = sales.merchant_id
        and stocked.product_id = sales.product_id
        and stocked.period = sales.period
        and stocked.period_start = sales.period_start
),

ranked as (
    select
        *,
        rank() over (partition by merchant_id, period, period_start order by revenue desc) as revenue_rank,
        rank() over (partition by merchant_id, period, period_start order by quantity desc) as quantity_rank,
        rank() over (partition by merchant_id, period, period_start order by revenue asc) as revenue_rank_from_bottom,
        count(*) over (partition by merchant_id, period, period_start) as ranked_skus,
        sum(revenue) over (partition by merchant_id, period, period_start) as period_revenue
    from listed
),

flagged as (
    select
        *,
        revenue > 0 and revenue_rank <= ceil({{ var('hot_seller_share') }} * ranked_skus) as is_hot_seller
    from ranked
)

select
    flagged.merchant_id,
    merchants.merchant_code,
    flagged.product_id,
    flagged.sku_code,
    flagged.sku_name,
    {{ sales_period_columns('flagged.period', 'flagged.period_start', 'merchants.as_of') }},
    cast(flagged.quantity as bigint) as quantity,
    cast(flagged.revenue as decimal(18, 2)) as revenue,
    cast(cast(flagged.revenue as double) / nullif(flagged.period_revenue, 0) as double) as revenue_share,
    cast(flagged.period_end_on_hand as integer) as period_end_on_hand,
    cast(flagged.ranked_skus as integer) as ranked_skus,
    cast(flagged.revenue_rank as integer) as revenue_rank,
    cast(flagged.quantity_rank as integer) as quantity_rank,
    cast(previous.revenue_rank as integer) as previous_revenue_rank,
    cast(previous.revenue_rank - flagged.revenue_rank as integer) as revenue_rank_change,
    flagged.is_hot_seller,
    not flagged.is_hot_seller
        and flagged.is_stocked
        and (
            flagged.revenue = 0
            or flagged.revenue_rank_from_bottom <= ceil({{ var('slow_seller_share') }} * flagged.ranked_skus)
        ) as is_slow_seller
from flagged
inner join merchants on merchants.merchant_id = flagged.merchant_id
left join flagged as previous
    on previous.merchant_id = flagged.merchant_id
    and previous.product_id = flagged.product_id
    and previous.period = flagged.period
    and previous.period_start = {{ sales_previous_period_start('flagged.period', 'flagged.period_start') }}
