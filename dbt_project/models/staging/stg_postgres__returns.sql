with source as (
    select * from {{ source('raw', 'returns') }}
)

select
    return_id,
    merchant_id,
    return_no,
    order_id,
    reason,
    note,
    status as return_status,
    requested_at,
    {{ business_date('requested_at') }} as requested_date,
    approved_at,
    {{ business_date('approved_at') }} as approved_date,
    rejected_at,
    {{ business_date('rejected_at') }} as rejected_date,
    received_at,
    {{ business_date('received_at') }} as received_date,
    refunded_at,
    {{ business_date('refunded_at') }} as refunded_date,
    refund_amount,
    updated_at,
    {{ business_date('updated_at') }} as updated_date
from source
