{{ config(meta={"dagster": {"ref": {"name": "fct_commission_by_category"}}}) }}

-- Commission by category adds up to the journal: per merchant, net commission summed over
-- categories and months equals the net credit to commission_revenue, both up to as_of.

with by_category as (
    select merchant_id, sum(net_commission) as net_commission
    from {{ ref('fct_commission_by_category') }}
    group by merchant_id
),

journal as (
    select
        merchant_id,
        {{ cents_to_amount('sum(commission_revenue_credit_cents - commission_revenue_debit_cents)') }}
            as net_commission
    from {{ ref('int_journal_entries_pivoted') }}
    group by merchant_id
)

select
    coalesce(by_category.merchant_id, journal.merchant_id) as merchant_id,
    by_category.net_commission as by_category_net_commission,
    journal.net_commission as journal_net_commission
from by_category
full outer join journal on journal.merchant_id = by_category.merchant_id
where coalesce(by_category.net_commission, 0) <> coalesce(journal.net_commission, 0)
