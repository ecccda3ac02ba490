with source as (
    select * from {{ source('raw', 'product_cost_history') }}
)

select
    cost_change_id,
    merchant_id,
    product_id,
    unit_cost,
    valid_from,
    {{ business_date('valid_from') }} as valid_from_date
from source
