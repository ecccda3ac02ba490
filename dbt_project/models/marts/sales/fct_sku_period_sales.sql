-- Sales per merchant × SKU × week (ISO, from Monday), month and quarter, periods with sales
-- only, rolled up from fct_daily_sales (which is the day grain: it is not copied here). SKU
-- marts leave out amount-only history, which has no SKU.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

daily as (
    select
        merchant_id,
        merchant_code,
        product_id,
        sku_code,
        sales_date,
        orders,
        quantity,
        revenue,
        cost
    from {{ ref('fct_daily_sales') }}
),

products as (
    select product_id, sku_name
    from {{ ref('stg_postgres__products') }}
),

periodic as (
    select
        daily.*,
        periods.period,
        {{ sales_period_start('periods.period', 'daily.sales_date') }} as period_start
    from daily
    cross join {{ sales_periods(["week", "month", "quarter"]) }}
),

-- An order falls on one day, so daily distinct orders add up to the period's.
period_sales as (
    select
        merchant_id,
        merchant_code,
        product_id,
        sku_code,
        period,
        period_start,
        count(*) as selling_days,
        sum(orders) as orders,
        sum(quantity) as quantity,
        sum(revenue) as revenue,
        sum(cost) as cost
    from periodic
    group by merchant_id, merchant_code, product_id, sku_code, period, period_start
)

select
    period_sales.merchant_id,
    period_sales.merchant_code,
    period_sales.product_id,
    period_sales.sku_code,
    products.sku_name,
    {{ sales_period_columns('period_sales.period', 'period_sales.period_start', 'merchants.as_of') }},
    cast(period_sales.selling_days as integer) as selling_days,
    cast(period_sales.orders as integer) as orders,
    cast(period_sales.quantity as bigint) as quantity,
    cast(period_sales.revenue as decimal(18, 2)) as revenue,
    cast(period_sales.cost as decimal(18, 2)) as cost,
    cast(period_sales.revenue - period_sales.cost as decimal(18, 2)) as gross_profit
from period_sales
inner join merchants on merchants.merchant_id = period_sales.merchant_id
left join products on products.product_id = period_sales.product_id
