with source as (
    select * from {{ source('raw', 'product_tags') }}
)

select
    product_id,
    merchant_id,
    tag,
    tagged_at,
    {{ business_date('tagged_at') }} as tagged_date,
    untagged_at,
    {{ business_date('untagged_at') }} as untagged_date
from source
