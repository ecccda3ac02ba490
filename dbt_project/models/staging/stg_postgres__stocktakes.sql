with source as (
    select * from {{ source('raw', 'stocktakes') }}
)

select
    stocktake_id,
    merchant_id,
    warehouse_id,
    counted_at,
    {{ business_date('counted_at') }} as counted_date,
    note
from source
