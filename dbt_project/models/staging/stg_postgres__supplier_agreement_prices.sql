with source as (
    select * from {{ source('raw', 'supplier_agreement_prices') }}
)

select
    agreement_id,
    merchant_id,
    product_id,
    agreed_unit_cost
from source
