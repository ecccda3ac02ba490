with source as (
    select * from {{ source('raw', 'purchase_orders') }}
)

select
    purchase_order_id,
    merchant_id,
    po_no,
    supplier_id,
    warehouse_id,
    agreement_id,
    required_approval_level,
    approved_level,
    status as purchase_order_status,
    ordered_at,
    {{ business_date('ordered_at') }} as ordered_date,
    expected_at,
    {{ business_date('expected_at') }} as expected_date,
    received_at,
    {{ business_date('received_at') }} as received_date,
    updated_at,
    -- core has no cancelled_at: a cancelled order's last update is when it was cancelled
    {{ business_date('updated_at') }} as updated_date
from source
