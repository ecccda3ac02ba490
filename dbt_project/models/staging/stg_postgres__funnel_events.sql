with source as (
    select * from {{ source('raw', 'funnel_events') }}
)

select
    merchant_id,
    occurred_at,
    {{ business_date('occurred_at') }} as occurred_date,
    session_id,
    customer_id,
    product_id,
    order_id,
    event_type
from source
