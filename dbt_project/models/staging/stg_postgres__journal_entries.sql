with source as (
    select * from {{ source('raw', 'journal_entries') }}
)

select
    journal_entry_id,
    merchant_id,
    entry_type,
    order_id,
    posted_at,
    {{ business_date('posted_at') }} as posted_date,
    memo
from source
