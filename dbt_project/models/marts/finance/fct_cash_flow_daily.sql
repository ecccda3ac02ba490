-- Cash per merchant × business day, from the journal's platform_cash account (the money the
-- platform holds for the merchant), days with cash movements only, nothing after as_of. Cash in
-- is payments (debits), split by payment method; cash out is refunds paid back to customers and
-- payouts to the merchant (credits). Refunds set against what a customer still owed move no
-- cash and so do not appear. The running balance is platform_cash at the end of the day.

with journal as (
    select journal_entry_id, merchant_id, entry_type, posted_date, platform_cash_debit_cents, platform_cash_credit_cents
    from {{ ref('int_journal_entries_pivoted') }}
    where platform_cash_debit_cents <> 0 or platform_cash_credit_cents <> 0
),

payments as (
    select journal_entry_id, method
    from {{ ref('stg_postgres__payments') }}
),

daily as (
    select
        journal.merchant_id,
        journal.posted_date as cash_date,
        count(*) filter (where journal.entry_type = 'payment') as payments,
        sum(journal.platform_cash_debit_cents) as cash_in_cents,
        {%- for method in ['online', 'credit', 'prepaid', 'cod'] %}
        coalesce(sum(journal.platform_cash_debit_cents) filter (where payments.method = '{{ method }}'), 0)
            as cash_in_{{ method }}_cents,
        {%- endfor %}
        count(*) filter (where journal.entry_type = 'refund') as cash_refunds,
        count(*) filter (where journal.entry_type = 'payout') as payouts,
        sum(journal.platform_cash_credit_cents) as cash_out_cents,
        coalesce(sum(journal.platform_cash_credit_cents) filter (where journal.entry_type = 'refund'), 0)
            as refunds_paid_cents,
        coalesce(sum(journal.platform_cash_credit_cents) filter (where journal.entry_type = 'payout'), 0)
            as payouts_cents
    from journal
    left join payments on payments.journal_entry_id = journal.journal_entry_id
    group by journal.merchant_id, journal.posted_date
),

merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
)

select
    daily.merchant_id,
    merchants.merchant_code,
    daily.cash_date,
    cast(date_trunc('week', daily.cash_date) as date) as week_start,
    cast(daily.payments as integer) as payments,
    {{ cents_to_amount('daily.cash_in_cents') }} as cash_in,
    {%- for method in ['online', 'credit', 'prepaid', 'cod'] %}
    {{ cents_to_amount('daily.cash_in_' ~ method ~ '_cents') }} as cash_in_{{ method }},
    {%- endfor %}
    cast(daily.cash_refunds as integer) as cash_refunds,
    cast(daily.payouts as integer) as payouts,
    {{ cents_to_amount('daily.cash_out_cents') }} as cash_out,
    {{ cents_to_amount('daily.refunds_paid_cents') }} as refunds_paid,
    {{ cents_to_amount('daily.payouts_cents') }} as payouts_paid,
    {{ cents_to_amount('daily.cash_in_cents - daily.cash_out_cents') }} as net_cash_flow,
    {{ cents_to_amount(
        'sum(daily.cash_in_cents - daily.cash_out_cents) over (partition by daily.merchant_id order by daily.cash_date)'
    ) }} as platform_cash_balance,
    merchants.as_of
from daily
inner join merchants on merchants.merchant_id = daily.merchant_id
