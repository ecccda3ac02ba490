with source as (
    select * from {{ source('raw', 'purchase_receipts') }}
)

select
    receipt_id,
    merchant_id,
    purchase_order_id,
    received_at,
    expected_at,
    received_date,
    expected_date,
    days_late,
    on_time
from source
