with source as (
    select * from {{ source('raw', 'sales') }}
)

select
    order_id,
    merchant_id,
    payment_method,
    credit_term_days,
    receivable_due_date,
    gross_cents,
    settled_at,
    {{ business_date('settled_at') }} as settled_date,
    journal_entry_id,
    entry_type
from source
