with source as (
    select * from {{ source('raw', 'suppliers') }}
)

select
    supplier_id,
    merchant_id,
    supplier_code,
    name as supplier_name,
    lead_time_days,
    qualification_grade,
    is_blacklisted,
    blacklist_reason,
    blacklisted_at,
    created_at,
    updated_at
from source
