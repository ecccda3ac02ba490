-- Purchase order quantities still to arrive at the end of the merchant's as_of: ordered by
-- then, not closed (received or cancelled) by then, less what the ledger shows received by
-- then. The ledger dates each receipt; received_quantity on the line knows only today's total.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

purchase_orders as (
    select
        purchase_orders.purchase_order_id,
        purchase_orders.merchant_id,
        purchase_orders.warehouse_id,
        purchase_orders.supplier_id,
        purchase_orders.po_no,
        purchase_orders.ordered_date,
        purchase_orders.expected_date,
        merchants.as_of
    from {{ ref('stg_postgres__purchase_orders') }} as purchase_orders
    inner join merchants on merchants.merchant_id = purchase_orders.merchant_id
    where purchase_orders.ordered_date <= merchants.as_of
      and not (purchase_orders.purchase_order_status = 'received' and purchase_orders.received_date <= merchants.as_of)
      and not (purchase_orders.purchase_order_status = 'cancelled' and purchase_orders.updated_date <= merchants.as_of)
      and not (purchase_orders.purchase_order_status = 'rejected' and purchase_orders.updated_date <= merchants.as_of)
      -- A draft is not sent: nothing is on order until procurement submits it.
      and purchase_orders.purchase_order_status <> 'draft'
),

receipts as (
    select
        movements.purchase_order_id,
        movements.product_id,
        sum(movements.on_hand_delta) as received_quantity
    from {{ ref('stg_postgres__stock_movements') }} as movements
    inner join merchants on merchants.merchant_id = movements.merchant_id
    where movements.movement_type = 'receipt'
      and movements.purchase_order_id is not null
      and movements.occurred_date <= merchants.as_of
    group by movements.purchase_order_id, movements.product_id
),

lines as (
    select
        purchase_order_lines.purchase_order_line_id,
        purchase_orders.purchase_order_id,
        purchase_orders.merchant_id,
        purchase_orders.warehouse_id,
        purchase_orders.supplier_id,
        purchase_order_lines.product_id,
        purchase_orders.po_no,
        purchase_orders.ordered_date,
        purchase_orders.expected_date,
        purchase_orders.as_of,
        purchase_order_lines.quantity as ordered_quantity,
        purchase_order_lines.unit_cost,
        coalesce(receipts.received_quantity, 0) as received_quantity
    from {{ ref('stg_postgres__purchase_order_lines') }} as purchase_order_lines
    inner join purchase_orders on purchase_orders.purchase_order_id = purchase_order_lines.purchase_order_id
    left join receipts
        on receipts.purchase_order_id = purchase_order_lines.purchase_order_id
        and receipts.product_id = purchase_order_lines.product_id
)

select
    purchase_order_line_id,
    purchase_order_id,
    merchant_id,
    warehouse_id,
    supplier_id,
    product_id,
    po_no,
    ordered_date,
    expected_date,
    as_of,
    ordered_quantity,
    unit_cost,
    cast(received_quantity as integer) as received_quantity,
    cast(greatest(ordered_quantity - received_quantity, 0) as integer) as outstanding_quantity
from lines
where ordered_quantity > received_quantity
