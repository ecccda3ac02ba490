-- Sales per merchant × SKU × business day, days with sales only. Revenue is the net line
-- amount of orders not cancelled, dated by order date; nothing after the merchant's as_of.
-- Daily partitions: a run with a partition window rebuilds only those days (see macros/partitions.sql).

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ replace_partition_window('sales_date') }}",
        tags=['daily_partitioned'],
    )
}}

with lines as (
    select
        merchant_id,
        product_id,
        order_id,
        ordered_date,
        quantity,
        revenue,
        cost
    from {{ ref('int_order_lines_enriched') }}
    where {{ in_partition_window('ordered_date') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

products as (
    select product_id, sku_code
    from {{ ref('stg_postgres__products') }}
),

daily as (
    select
        merchant_id,
        product_id,
        ordered_date as sales_date,
        count(distinct order_id) as orders,
        sum(quantity) as quantity,
        sum(revenue) as revenue,
        sum(cost) as cost
    from lines
    group by merchant_id, product_id, ordered_date
)

select
    daily.merchant_id,
    merchants.merchant_code,
    daily.product_id,
    products.sku_code,
    daily.sales_date,
    cast(daily.orders as integer) as orders,
    cast(daily.quantity as integer) as quantity,
    cast(daily.revenue as decimal(18, 2)) as revenue,
    cast(daily.cost as decimal(18, 2)) as cost,
    cast(daily.revenue - daily.cost as decimal(18, 2)) as gross_profit
from daily
inner join merchants on merchants.merchant_id = daily.merchant_id
inner join products on products.product_id = daily.product_id
