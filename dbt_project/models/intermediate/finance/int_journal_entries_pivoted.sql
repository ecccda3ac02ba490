-- One row per journal entry posted on or before its merchant's as_of, with its lines pivoted
-- into a debit and a credit column per account (integer cents). PostgreSQL refuses an entry
-- that does not balance, so amounts the marts read from here reconcile to the journal.
{%- set accounts = ['platform_cash', 'customer_receivable', 'merchant_payable', 'commission_revenue'] %}

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

entries as (
    select
        entries.journal_entry_id,
        entries.merchant_id,
        entries.entry_type,
        entries.order_id,
        entries.posted_at,
        entries.posted_date
    from {{ ref('stg_postgres__journal_entries') }} as entries
    inner join merchants on merchants.merchant_id = entries.merchant_id
    where entries.posted_date <= merchants.as_of
),

lines as (
    select
        journal_entry_id,
        {%- for account in accounts %}
        sum(debit_cents) filter (where account = '{{ account }}') as {{ account }}_debit_cents,
        sum(credit_cents) filter (where account = '{{ account }}') as {{ account }}_credit_cents
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_postgres__journal_lines') }}
    group by journal_entry_id
)

select
    entries.journal_entry_id,
    entries.merchant_id,
    entries.entry_type,
    entries.order_id,
    entries.posted_at,
    entries.posted_date,
    {%- for account in accounts %}
    cast(coalesce(lines.{{ account }}_debit_cents, 0) as bigint) as {{ account }}_debit_cents,
    cast(coalesce(lines.{{ account }}_credit_cents, 0) as bigint) as {{ account }}_credit_cents
    {{- "," if not loop.last }}
    {%- endfor %}
from entries
left join lines on lines.journal_entry_id = entries.journal_entry_id
