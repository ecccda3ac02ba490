with source as (
    select * from {{ source('raw', 'payments') }}
)

select
    payment_id,
    merchant_id,
    order_id,
    method,
    amount,
    paid_at,
    {{ business_date('paid_at') }} as paid_date,
    reference,
    journal_entry_id,
    entry_type
from source
