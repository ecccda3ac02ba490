-- Every settled order whose customer still owes something at the merchant's as_of, with its
-- due date, days overdue and overdue bucket (var receivable_overdue_bucket_days): the list a
-- merchant works through to collect. fct_receivables_ageing sums it by credit term and bucket.

with receivables as (
    select * from {{ ref('int_receivables_aged') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

customers as (
    select customer_id, customer_code, customer_name
    from {{ ref('stg_postgres__customers') }}
)

select
    receivables.merchant_id,
    merchants.merchant_code,
    receivables.order_id,
    receivables.order_no,
    receivables.customer_id,
    customers.customer_code,
    customers.customer_name,
    receivables.credit_term,
    receivables.payment_method,
    cast(receivables.credit_term_days as integer) as credit_term_days,
    receivables.settled_date,
    receivables.receivable_due_date,
    {{ cents_to_amount('receivables.gross_cents') }} as gross_amount,
    {{ cents_to_amount('receivables.paid_cents') }} as paid_amount,
    {{ cents_to_amount('receivables.offset_cents') }} as refunded_against_amount,
    {{ cents_to_amount('receivables.open_cents') }} as open_amount,
    receivables.days_overdue,
    receivables.overdue_bucket,
    receivables.as_of
from receivables
inner join merchants on merchants.merchant_id = receivables.merchant_id
inner join customers on customers.customer_id = receivables.customer_id
