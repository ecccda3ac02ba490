-- One row per merchant at as_of: sales over the trailing merchant_sales_window_days days (as_of
-- included), the same-length window before it, growth, and the growth tier (elite / senior /
-- growth / standard / entry) from var merchant_growth_tier_floors, a value exactly on a floor
-- taking the higher tier. Amount-only history counts. A merchant with an as_of but no sales in
-- the window is entry.
{%- set window_days = var("merchant_sales_window_days") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

orders as (
    select merchant_id, customer_id, ordered_date, order_amount, is_amount_only
    from {{ ref('int_customer_orders_unioned') }}
),

windows as (
    select
        merchant_id,
        merchant_code,
        as_of,
        {{ trailing_window_start('as_of', window_days) }} as window_start,
        {{ trailing_window_start('as_of', window_days) }} - {{ window_days }} as previous_window_start
    from merchants
),

window_sales as (
    select
        windows.merchant_id,
        count(*) filter (where orders.ordered_date >= windows.window_start) as orders,
        count(distinct orders.customer_id) filter (where orders.ordered_date >= windows.window_start) as customers,
        coalesce(sum(orders.order_amount) filter (where orders.ordered_date >= windows.window_start), 0) as sales,
        coalesce(sum(orders.order_amount) filter (
            where orders.ordered_date >= windows.window_start and orders.is_amount_only
        ), 0) as amount_only_sales,
        coalesce(sum(orders.order_amount) filter (where orders.ordered_date < windows.window_start), 0)
            as previous_sales
    from windows
    inner join orders
        on orders.merchant_id = windows.merchant_id
        and orders.ordered_date >= windows.previous_window_start
    group by windows.merchant_id
),

history as (
    select merchant_id, min(ordered_date) as first_sale_date
    from orders
    group by merchant_id
),

joined as (
    select
        windows.merchant_id,
        windows.merchant_code,
        windows.as_of,
        windows.window_start,
        coalesce(window_sales.orders, 0) as orders,
        coalesce(window_sales.customers, 0) as customers,
        cast(coalesce(window_sales.sales, 0) as decimal(18, 2)) as trailing_sales,
        cast(coalesce(window_sales.amount_only_sales, 0) as decimal(18, 2)) as amount_only_sales,
        -- A merchant whose history starts inside the previous window has no full year to compare.
        case
            when history.first_sale_date <= windows.previous_window_start
                then cast(coalesce(window_sales.previous_sales, 0) as decimal(18, 2))
        end as previous_trailing_sales
    from windows
    left join window_sales on window_sales.merchant_id = windows.merchant_id
    left join history on history.merchant_id = windows.merchant_id
)

select
    merchant_id,
    merchant_code,
    as_of,
    window_start,
    cast(orders as integer) as orders,
    cast(customers as integer) as customers,
    trailing_sales,
    amount_only_sales,
    previous_trailing_sales,
    cast(trailing_sales as double) / nullif(previous_trailing_sales, 0) - 1 as growth_rate,
    {{ merchant_growth_tier('trailing_sales') }} as growth_tier
from joined
