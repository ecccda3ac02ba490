-- Each customer's purchases per period (day, week, month, quarter) and order source, with the
-- date of the customer's first order at the merchant: the base of the merchant, region and
-- channel period marts. Amount-only history (imported orders without SKU lines) counts in
-- orders and revenue here and can be a customer's first order, so a customer whose history
-- was imported is returning on their first platform order.

with line_orders as (
    select
        merchant_id,
        customer_id,
        order_id,
        ordered_date,
        sum(revenue) as sku_revenue,
        sum(cost) as cost
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id, customer_id, order_id, ordered_date
),

amount_only_orders as (
    select merchant_id, customer_id, order_id, ordered_date, revenue
    from {{ ref('int_orders_amount_only') }}
),

order_sources as (
    select order_id, order_source
    from {{ ref('stg_postgres__orders') }}
),

counted_orders as (
    select
        merchant_id,
        customer_id,
        order_id,
        ordered_date,
        cast(sku_revenue as decimal(18, 2)) as sku_revenue,
        cast(0 as decimal(18, 2)) as amount_only_revenue,
        cast(cost as decimal(18, 2)) as cost
    from line_orders
    union all
    select
        merchant_id,
        customer_id,
        order_id,
        ordered_date,
        cast(0 as decimal(18, 2)) as sku_revenue,
        cast(revenue as decimal(18, 2)) as amount_only_revenue,
        cast(0 as decimal(18, 2)) as cost
    from amount_only_orders
),

-- Orders fall on one day each, so daily rows keep every measure additive before the periods.
daily as (
    select
        counted_orders.merchant_id,
        counted_orders.customer_id,
        counted_orders.ordered_date,
        order_sources.order_source,
        count(*) as orders,
        sum(counted_orders.sku_revenue) as sku_revenue,
        sum(counted_orders.amount_only_revenue) as amount_only_revenue,
        sum(counted_orders.cost) as cost
    from counted_orders
    inner join order_sources on order_sources.order_id = counted_orders.order_id
    group by
        counted_orders.merchant_id,
        counted_orders.customer_id,
        counted_orders.ordered_date,
        order_sources.order_source
),

first_orders as (
    select merchant_id, customer_id, min(ordered_date) as first_ordered_date
    from daily
    group by merchant_id, customer_id
),

periodic as (
    select
        daily.merchant_id,
        daily.customer_id,
        daily.order_source,
        periods.period,
        {{ sales_period_start('periods.period', 'daily.ordered_date') }} as period_start,
        daily.orders,
        daily.sku_revenue,
        daily.amount_only_revenue,
        daily.cost
    from daily
    cross join {{ sales_periods() }}
)

select
    periodic.merchant_id,
    periodic.customer_id,
    periodic.period,
    periodic.period_start,
    periodic.order_source,
    first_orders.first_ordered_date,
    cast(sum(periodic.orders) as integer) as orders,
    cast(sum(periodic.sku_revenue) as decimal(18, 2)) as sku_revenue,
    cast(sum(periodic.amount_only_revenue) as decimal(18, 2)) as amount_only_revenue,
    cast(sum(periodic.cost) as decimal(18, 2)) as cost
from periodic
inner join first_orders
    on first_orders.merchant_id = periodic.merchant_id
    and first_orders.customer_id = periodic.customer_id
group by
    periodic.merchant_id,
    periodic.customer_id,
    periodic.period,
    periodic.period_start,
    periodic.order_source,
    first_orders.first_ordered_date
