with source as (
    select * from {{ source('raw', 'stocktake_lines') }}
)

select
    stocktake_id,
    batch_id,
    warehouse_id,
    merchant_id,
    system_quantity,
    counted_quantity
from source
