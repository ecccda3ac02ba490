with source as (
    select * from {{ source('raw', 'supplier_agreements') }}
)

select
    agreement_id,
    merchant_id,
    supplier_id,
    agreement_code,
    rebate_pct,
    valid_from,
    valid_until,
    created_at,
    {{ business_date('created_at') }} as created_date
from source
