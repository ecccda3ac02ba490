with source as (
    select * from {{ source('raw', 'journal_lines') }}
)

select
    journal_line_id,
    journal_entry_id,
    merchant_id,
    account,
    debit_cents,
    credit_cents
from source
