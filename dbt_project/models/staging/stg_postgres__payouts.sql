with source as (
    select * from {{ source('raw', 'payouts') }}
)

select
    payout_id,
    merchant_id,
    amount_cents,
    paid_at,
    {{ business_date('paid_at') }} as paid_date,
    settlement_statement_id,
    reference,
    journal_entry_id,
    entry_type
from source
