with source as (
    select * from {{ source('raw', 'settlement_statement_entries') }}
)

select
    kind,
    journal_entry_id,
    settlement_statement_id,
    merchant_id,
    entry_type
from source
