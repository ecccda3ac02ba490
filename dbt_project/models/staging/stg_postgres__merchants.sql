with source as (
    select * from {{ source('raw', 'merchants') }}
)

select
    merchant_id,
    merchant_code,
    name as merchant_name,
    merchant_type,
    region,
    payout_working_days,
    created_at,
    updated_at
from source
