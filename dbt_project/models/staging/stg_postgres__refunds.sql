with source as (
    select * from {{ source('raw', 'refunds') }}
)

select
    refund_id,
    merchant_id,
    order_id,
    amount_cents,
    offset_cents,
    cash_cents,
    refunded_at,
    {{ business_date('refunded_at') }} as refunded_date,
    reference,
    reason,
    journal_entry_id,
    entry_type
from source
