with source as (
    select * from {{ source('raw', 'operation_log') }}
)

select
    operation_log_id,
    merchant_id,
    actor,
    operation,
    target,
    idempotency_key,
    request,
    occurred_at,
    {{ business_date('occurred_at') }} as occurred_date,
    recorded_at,
    {{ business_date('recorded_at') }} as recorded_date
from source
