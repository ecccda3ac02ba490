-- Sales per merchant × business day, days with sales only: the merchant-level totals the
-- overview shows. Orders are counted once each here, which summing fct_daily_sales.orders
-- over SKUs cannot do. Amount-only history (imported orders without SKU lines) adds to orders,
-- customers and revenue; it has no cost, so gross profit covers the SKU lines only.
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
        order_id,
        customer_id,
        ordered_date,
        revenue,
        cost
    from {{ ref('int_order_lines_enriched') }}
    where {{ in_partition_window('ordered_date') }}
),

amount_only as (
    select merchant_id, order_id, customer_id, ordered_date, revenue
    from {{ ref('int_orders_amount_only') }}
    where {{ in_partition_window('ordered_date') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

daily_lines as (
    select
        merchant_id,
        ordered_date,
        count(distinct order_id) as orders,
        count(*) as order_lines,
        sum(revenue) as revenue,
        sum(cost) as cost
    from lines
    group by merchant_id, ordered_date
),

daily_amount_only as (
    select
        merchant_id,
        ordered_date,
        count(*) as orders,
        sum(revenue) as revenue
    from amount_only
    group by merchant_id, ordered_date
),

daily_customers as (
    select merchant_id, ordered_date, count(distinct customer_id) as customers
    from (
        select merchant_id, ordered_date, customer_id from lines
        union all
        select merchant_id, ordered_date, customer_id from amount_only
    ) as buyers
    group by merchant_id, ordered_date
),

daily as (
    select
        daily_customers.merchant_id,
        daily_customers.ordered_date as sales_date,
        coalesce(daily_lines.orders, 0) + coalesce(daily_amount_only.orders, 0) as orders,
        coalesce(daily_lines.order_lines, 0) as order_lines,
        daily_customers.customers,
        coalesce(daily_lines.revenue, 0) as sku_revenue,
        coalesce(daily_amount_only.revenue, 0) as amount_only_revenue,
        coalesce(daily_lines.cost, 0) as cost
    from daily_customers
    left join daily_lines
        on daily_lines.merchant_id = daily_customers.merchant_id
        and daily_lines.ordered_date = daily_customers.ordered_date
    left join daily_amount_only
        on daily_amount_only.merchant_id = daily_customers.merchant_id
        and daily_amount_only.ordered_date = daily_customers.ordered_date
)

select
    daily.merchant_id,
    merchants.merchant_code,
    daily.sales_date,
    cast(daily.orders as integer) as orders,
    cast(daily.order_lines as integer) as order_lines,
    cast(daily.customers as integer) as customers,
    cast(daily.sku_revenue + daily.amount_only_revenue as decimal(18, 2)) as revenue,
    cast(daily.cost as decimal(18, 2)) as cost,
    cast(daily.sku_revenue - daily.cost as decimal(18, 2)) as gross_profit,
    cast(daily.amount_only_revenue as decimal(18, 2)) as amount_only_revenue
from daily
inner join merchants on merchants.merchant_id = daily.merchant_id
