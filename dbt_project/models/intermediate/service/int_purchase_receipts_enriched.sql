-- Purchase receipts up to the merchant's as_of, each with its purchase order's supplier and
-- order date, the lead time from ordering to receipt, and what was delivered, passed and
-- rejected at the quality check, valued at the purchase order line's unit cost.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

receipts as (
    select
        receipts.receipt_id,
        receipts.merchant_id,
        receipts.purchase_order_id,
        receipts.received_date,
        receipts.expected_date,
        receipts.days_late,
        receipts.on_time,
        merchants.as_of
    from {{ ref('stg_postgres__purchase_receipts') }} as receipts
    inner join merchants on merchants.merchant_id = receipts.merchant_id
    where receipts.received_date <= merchants.as_of
),

purchase_orders as (
    select purchase_order_id, supplier_id, warehouse_id, ordered_date
    from {{ ref('stg_postgres__purchase_orders') }}
),

receipt_quantities as (
    select
        receipt_lines.receipt_id,
        sum(receipt_lines.delivered_quantity) as delivered_quantity,
        sum(receipt_lines.passed_quantity) as passed_quantity,
        sum(receipt_lines.rejected_quantity) as rejected_quantity,
        sum(receipt_lines.delivered_quantity * order_lines.unit_cost) as delivered_value
    from {{ ref('stg_postgres__purchase_receipt_lines') }} as receipt_lines
    inner join {{ ref('stg_postgres__purchase_order_lines') }} as order_lines
        on order_lines.purchase_order_line_id = receipt_lines.purchase_order_line_id
    group by receipt_lines.receipt_id
)

select
    receipts.receipt_id,
    receipts.merchant_id,
    purchase_orders.supplier_id,
    purchase_orders.warehouse_id,
    receipts.purchase_order_id,
    purchase_orders.ordered_date,
    receipts.expected_date,
    receipts.received_date,
    cast({{ dbt.datediff("purchase_orders.ordered_date", "receipts.received_date", "day") }} as integer) as lead_time_days,
    cast(greatest(coalesce(receipts.days_late, 0), 0) as integer) as days_late,
    receipts.on_time,
    cast(coalesce(receipt_quantities.delivered_quantity, 0) as bigint) as delivered_quantity,
    cast(coalesce(receipt_quantities.passed_quantity, 0) as bigint) as passed_quantity,
    cast(coalesce(receipt_quantities.rejected_quantity, 0) as bigint) as rejected_quantity,
    cast(coalesce(receipt_quantities.delivered_value, 0) as decimal(18, 2)) as delivered_value,
    receipts.as_of
from receipts
inner join purchase_orders on purchase_orders.purchase_order_id = receipts.purchase_order_id
left join receipt_quantities on receipt_quantities.receipt_id = receipts.receipt_id
