with source as (
    select * from {{ source('raw', 'batches') }}
)

select
    batch_id,
    merchant_id,
    product_id,
    lot_code,
    received_at,
    {{ business_date('received_at') }} as received_date,
    expiry_date,
    unit_cost,
    supplier_id,
    created_at
from source
