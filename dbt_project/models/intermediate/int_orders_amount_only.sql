-- Imported order history with no SKU lines (amount-only): it counts in merchant and customer
-- revenue, never in SKU marts, and has no cost. Same cut-off as the lines: ordered on or before
-- the merchant's as_of and not cancelled by then.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

orders_with_lines as (
    select distinct order_id
    from {{ ref('stg_postgres__order_lines') }}
)

select
    orders.order_id,
    orders.merchant_id,
    orders.customer_id,
    orders.ordered_date,
    orders.external_order_code,
    orders.total_amount as revenue
from {{ ref('stg_postgres__orders') }} as orders
inner join merchants on merchants.merchant_id = orders.merchant_id
where orders.order_id not in (select order_id from orders_with_lines)
  and orders.ordered_date <= merchants.as_of
  and (orders.cancelled_date is null or orders.cancelled_date > merchants.as_of)
