with source as (
    select * from {{ source('raw', 'settlement_statements') }}
)

select
    settlement_statement_id,
    merchant_id,
    kind,
    period_start,
    period_end,
    order_count,
    refund_count,
    gross_sales_cents,
    commission_cents,
    refunds_cents,
    commission_refunded_cents,
    net_payable_cents,
    payout_working_days,
    payout_due_date,
    generated_at,
    {{ business_date('generated_at') }} as generated_date
from source
