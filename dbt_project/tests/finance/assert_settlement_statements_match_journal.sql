-- settlements = journal: a row for every statement whose counts or amounts differ from the
-- journal entries it covers.

select
    settlement_statement_id,
    merchant_code,
    kind,
    period_start,
    net_payable,
    journal_net_payable,
    net_payable_difference
from {{ ref('fct_settlement_statements') }}
where not is_reconciled
