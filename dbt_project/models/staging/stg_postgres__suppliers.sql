with source as (
    select * from {{ source('raw', 'suppliers') }}
)

select
    supplier_id,
    merchant_id,
    supplier_code,
    name as supplier_name,
    lead_time_days,
    created_at,
    updated_at
from source
