with source as (
    select * from {{ source('raw', 'warehouses') }}
)

select
    warehouse_id,
    merchant_id,
    warehouse_code,
    name as warehouse_name,
    region,
    created_at,
    updated_at
from source
