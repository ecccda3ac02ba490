-- Sales per merchant × business day, days with sales only: the merchant-level totals the
-- overview shows. Orders are counted once each here, which summing fct_daily_sales.orders
-- over SKUs cannot do.

with lines as (
    select
        merchant_id,
        order_id,
        customer_id,
        ordered_date,
        revenue,
        cost
    from {{ ref('int_order_lines_enriched') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

daily as (
    select
        merchant_id,
        ordered_date as sales_date,
        count(distinct order_id) as orders,
        count(*) as order_lines,
        count(distinct customer_id) as customers,
        sum(revenue) as revenue,
        sum(cost) as cost
    from lines
    group by merchant_id, ordered_date
)

select
    daily.merchant_id,
    merchants.merchant_code,
    daily.sales_date,
    cast(daily.orders as integer) as orders,
    cast(daily.order_lines as integer) as order_lines,
    cast(daily.customers as integer) as customers,
    cast(daily.revenue as decimal(18, 2)) as revenue,
    cast(daily.cost as decimal(18, 2)) as cost,
    cast(daily.revenue - daily.cost as decimal(18, 2)) as gross_profit
from daily
inner join merchants on merchants.merchant_id = daily.merchant_id
