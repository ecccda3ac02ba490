with source as (
    select * from {{ source('raw', 'product_groups') }}
)

select
    product_group_id,
    merchant_id,
    group_code,
    name as product_group_name,
    created_at,
    {{ business_date('created_at') }} as created_date
from source
