with source as (
    select * from {{ source('raw', 'commission_rates') }}
)

select
    commission_rate_id,
    category_id,
    rate,
    valid_from,
    created_at,
    {{ business_date('created_at') }} as created_date
from source
