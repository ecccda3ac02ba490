with source as (
    select * from {{ source('raw', 'purchase_receipt_lines') }}
)

select
    receipt_line_id,
    receipt_id,
    purchase_order_id,
    purchase_order_line_id,
    product_id,
    merchant_id,
    delivered_quantity,
    passed_quantity,
    rejected_quantity,
    rejection_reason,
    batch_id
from source
