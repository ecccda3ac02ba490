with source as (
    select * from {{ source('raw', 'stock_transfers') }}
)

select
    transfer_id,
    merchant_id,
    product_id,
    from_warehouse_id,
    to_warehouse_id,
    quantity,
    note,
    transferred_at,
    {{ business_date('transferred_at') }} as transferred_date
from source
