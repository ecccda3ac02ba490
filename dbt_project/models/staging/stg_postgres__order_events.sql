with source as (
    select * from {{ source('raw', 'order_events') }}
)

select
    order_event_id,
    order_id,
    merchant_id,
    from_status,
    to_status,
    occurred_at,
    {{ business_date('occurred_at') }} as occurred_date,
    actor,
    note
from source
