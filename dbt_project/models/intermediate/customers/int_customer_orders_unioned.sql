-- Every order that counts in customer and merchant revenue at the merchant's as_of, one row per
-- order: orders with SKU lines (net line amounts) and imported amount-only orders, which have
-- no lines and so never reach the SKU marts. Same cut-off as both inputs: ordered on or before
-- as_of and not cancelled by then.

with sku_orders as (
    select
        merchant_id,
        order_id,
        customer_id,
        ordered_date,
        sum(revenue) as order_amount
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id, order_id, customer_id, ordered_date
),

amount_only_orders as (
    select
        merchant_id,
        order_id,
        customer_id,
        ordered_date,
        revenue as order_amount
    from {{ ref('int_orders_amount_only') }}
)

select
    merchant_id,
    order_id,
    customer_id,
    ordered_date,
    cast(order_amount as decimal(18, 2)) as order_amount,
    false as is_amount_only
from sku_orders

union all

select
    merchant_id,
    order_id,
    customer_id,
    ordered_date,
    cast(order_amount as decimal(18, 2)) as order_amount,
    true as is_amount_only
from amount_only_orders
