-- One row per settlement statement issued on or before its merchant's as_of: the amounts it
-- states, the same amounts recomputed from the journal entries it covers, the differences
-- (zero when the statement reconciles; tests/finance/assert_settlement_statements_match_journal
-- fails otherwise) and its payout. Sale entries post gross to customer_receivable (debit) and
-- commission to commission_revenue (credit); refund entries take the amount out of
-- merchant_payable and commission_revenue (debits), the commission share being the latter; the
-- net payable is the net credit to merchant_payable.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

statements as (
    select statements.*, merchants.merchant_code, merchants.as_of
    from {{ ref('stg_postgres__settlement_statements') }} as statements
    inner join merchants on merchants.merchant_id = statements.merchant_id
    where statements.generated_date <= merchants.as_of
),

statement_entries as (
    select settlement_statement_id, kind, journal_entry_id
    from {{ ref('stg_postgres__settlement_statement_entries') }}
),

from_journal as (
    select
        statement_entries.settlement_statement_id,
        count(*) filter (where journal.entry_type = 'sale') as sale_entries,
        count(*) filter (where journal.entry_type = 'refund') as refund_entries,
        coalesce(sum(journal.customer_receivable_debit_cents) filter (where journal.entry_type = 'sale'), 0)
            as gross_sales_cents,
        coalesce(sum(journal.commission_revenue_credit_cents) filter (where journal.entry_type = 'sale'), 0)
            as commission_cents,
        coalesce(
            sum(journal.merchant_payable_debit_cents + journal.commission_revenue_debit_cents)
                filter (where journal.entry_type = 'refund'),
            0
        ) as refunds_cents,
        coalesce(sum(journal.commission_revenue_debit_cents) filter (where journal.entry_type = 'refund'), 0)
            as commission_refunded_cents,
        coalesce(sum(journal.merchant_payable_credit_cents - journal.merchant_payable_debit_cents), 0)
            as net_payable_cents
    from statement_entries
    inner join {{ ref('int_journal_entries_pivoted') }} as journal
        on journal.journal_entry_id = statement_entries.journal_entry_id
    group by statement_entries.settlement_statement_id
),

payouts as (
    select payouts.settlement_statement_id, payouts.payout_id, payouts.amount_cents, payouts.paid_date
    from {{ ref('stg_postgres__payouts') }} as payouts
    inner join merchants on merchants.merchant_id = payouts.merchant_id
    where payouts.settlement_statement_id is not null
      and payouts.paid_date <= merchants.as_of
),

-- A merchant paid on statements of one kind (say weekly) leaves those of the other kinds
-- unpaid although their trades were paid out: such a statement counts as paid with the others
-- once every trade it covers is in a paid statement of another kind. Pivoting the paid dates by
-- kind per entry first keeps this one row per entry, never a self-join of all entries.
paid_entries as (
    select
        statement_entries.journal_entry_id,
        max(payouts.paid_date) filter (where statement_entries.kind = 'daily') as paid_daily,
        max(payouts.paid_date) filter (where statement_entries.kind = 'weekly') as paid_weekly,
        max(payouts.paid_date) filter (where statement_entries.kind = 'monthly') as paid_monthly
    from statement_entries
    inner join payouts on payouts.settlement_statement_id = statement_entries.settlement_statement_id
    group by statement_entries.journal_entry_id
),

entries_paid_by_others as (
    select
        statement_entries.settlement_statement_id,
        -- greatest() skips NULLs: the latest payout among the statements of the other kinds.
        case statement_entries.kind
            when 'daily' then greatest(paid_entries.paid_weekly, paid_entries.paid_monthly)
            when 'weekly' then greatest(paid_entries.paid_daily, paid_entries.paid_monthly)
            else greatest(paid_entries.paid_daily, paid_entries.paid_weekly)
        end as paid_date
    from statement_entries
    left join paid_entries on paid_entries.journal_entry_id = statement_entries.journal_entry_id
),

paid_elsewhere as (
    select
        settlement_statement_id,
        count(*) as entries,
        count(paid_date) as entries_paid,
        max(paid_date) as last_paid_date
    from entries_paid_by_others
    group by settlement_statement_id
),

reconciled as (
    select
        statements.*,
        coalesce(from_journal.sale_entries, 0) as journal_order_count,
        coalesce(from_journal.refund_entries, 0) as journal_refund_count,
        coalesce(from_journal.gross_sales_cents, 0) as journal_gross_sales_cents,
        coalesce(from_journal.commission_cents, 0) as journal_commission_cents,
        coalesce(from_journal.refunds_cents, 0) as journal_refunds_cents,
        coalesce(from_journal.commission_refunded_cents, 0) as journal_commission_refunded_cents,
        coalesce(from_journal.net_payable_cents, 0) as journal_net_payable_cents,
        payouts.payout_id,
        payouts.amount_cents as payout_cents,
        case
            when payouts.payout_id is not null then payouts.paid_date
            when paid_elsewhere.entries > 0 and paid_elsewhere.entries_paid = paid_elsewhere.entries
                then paid_elsewhere.last_paid_date
        end as paid_date,
        payouts.payout_id is null
            and paid_elsewhere.entries > 0
            and paid_elsewhere.entries_paid = paid_elsewhere.entries as is_paid_with_other_statements
    from statements
    left join from_journal on from_journal.settlement_statement_id = statements.settlement_statement_id
    left join payouts on payouts.settlement_statement_id = statements.settlement_statement_id
    left join paid_elsewhere on paid_elsewhere.settlement_statement_id = statements.settlement_statement_id
)

select
    settlement_statement_id,
    merchant_id,
    merchant_code,
    kind,
    period_start,
    period_end,
    generated_date,
    order_count,
    refund_count,
    {{ cents_to_amount('gross_sales_cents') }} as gross_sales,
    {{ cents_to_amount('commission_cents') }} as commission,
    {{ cents_to_amount('refunds_cents') }} as refunds,
    {{ cents_to_amount('commission_refunded_cents') }} as commission_refunded,
    {{ cents_to_amount('net_payable_cents') }} as net_payable,
    cast(journal_order_count as integer) as journal_order_count,
    cast(journal_refund_count as integer) as journal_refund_count,
    {{ cents_to_amount('journal_gross_sales_cents') }} as journal_gross_sales,
    {{ cents_to_amount('journal_commission_cents') }} as journal_commission,
    {{ cents_to_amount('journal_refunds_cents') }} as journal_refunds,
    {{ cents_to_amount('journal_commission_refunded_cents') }} as journal_commission_refunded,
    {{ cents_to_amount('journal_net_payable_cents') }} as journal_net_payable,
    {{ cents_to_amount('net_payable_cents - journal_net_payable_cents') }} as net_payable_difference,
    order_count = journal_order_count
        and refund_count = journal_refund_count
        and gross_sales_cents = journal_gross_sales_cents
        and commission_cents = journal_commission_cents
        and refunds_cents = journal_refunds_cents
        and commission_refunded_cents = journal_commission_refunded_cents
        and net_payable_cents = journal_net_payable_cents as is_reconciled,
    payout_working_days,
    payout_due_date,
    payout_id,
    {{ cents_to_amount('payout_cents') }} as payout_amount,
    paid_date,
    case
        when paid_date is not null and is_paid_with_other_statements then 'paid_with_other_statements'
        when paid_date is not null and paid_date <= payout_due_date then 'paid_on_time'
        when paid_date is not null then 'paid_late'
        when net_payable_cents <= 0 then 'nothing_to_pay'
        when as_of <= payout_due_date then 'not_due'
        else 'overdue'
    end as payout_status,
    cast(
        case
            when is_paid_with_other_statements then 0
            when paid_date is not null then greatest({{ dbt.datediff("payout_due_date", "paid_date", "day") }}, 0)
            when net_payable_cents > 0 then greatest({{ dbt.datediff("payout_due_date", "as_of", "day") }}, 0)
            else 0
        end as integer
    ) as days_late,
    as_of
from reconciled
