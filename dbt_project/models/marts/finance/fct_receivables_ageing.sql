-- Open receivables per merchant × credit term × overdue bucket at the merchant's as_of
-- (combinations with something open only): what customers still owe on settled orders, from
-- the sales' due dates and the payments and refund offsets up to as_of (int_receivables_aged).

with receivables as (
    select * from {{ ref('int_receivables_aged') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

grouped as (
    select
        merchant_id,
        credit_term,
        payment_method,
        credit_term_days,
        overdue_bucket,
        count(*) as orders,
        count(distinct customer_id) as customers,
        sum(open_cents) as open_cents,
        min(receivable_due_date) as oldest_due_date,
        max(days_overdue) as max_days_overdue,
        max(as_of) as as_of
    from receivables
    group by merchant_id, credit_term, payment_method, credit_term_days, overdue_bucket
)

select
    grouped.merchant_id,
    merchants.merchant_code,
    grouped.credit_term,
    grouped.payment_method,
    cast(grouped.credit_term_days as integer) as credit_term_days,
    grouped.overdue_bucket,
    cast(grouped.orders as integer) as orders,
    cast(grouped.customers as integer) as customers,
    {{ cents_to_amount('grouped.open_cents') }} as open_amount,
    grouped.oldest_due_date,
    cast(grouped.max_days_overdue as integer) as max_days_overdue,
    grouped.as_of
from grouped
inner join merchants on merchants.merchant_id = grouped.merchant_id
