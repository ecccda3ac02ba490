with source as (
    select * from {{ source('raw', 'purchase_approval_rules') }}
)

select
    merchant_id,
    required_level,
    min_amount,
    created_at,
    {{ business_date('created_at') }} as created_date,
    updated_at,
    {{ business_date('updated_at') }} as updated_date,
    retired_at,
    {{ business_date('retired_at') }} as retired_date
from source
