with source as (
    select * from {{ source('raw', 'merchants') }}
)

select
    merchant_id,
    merchant_code,
    name as merchant_name,
    merchant_type,
    region,
    created_at,
    updated_at
from source
