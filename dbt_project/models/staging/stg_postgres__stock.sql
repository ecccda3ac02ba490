-- The current stock only; stock at an as_of is rebuilt from the ledger (int_stock_movements_as_of).
with source as (
    select * from {{ source('raw', 'stock') }}
)

select
    warehouse_id,
    batch_id,
    product_id,
    merchant_id,
    on_hand,
    reserved,
    frozen,
    updated_at
from source
