-- Settled orders whose customers still owe something at the merchant's as_of, aged by the
-- sale's receivable due date. What is owed is the sale's gross less the payments and the refunds
-- set against the debt (offset_cents) dated on or before as_of: the rule of
-- transactional.money.payments.open_receivables, by business date. Due on as_of is not overdue.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

sales as (
    select
        sales.order_id,
        sales.merchant_id,
        sales.payment_method,
        sales.credit_term_days,
        sales.receivable_due_date,
        sales.gross_cents,
        sales.settled_date,
        orders.order_no,
        orders.customer_id,
        merchants.as_of
    from {{ ref('stg_postgres__sales') }} as sales
    inner join merchants on merchants.merchant_id = sales.merchant_id
    inner join {{ ref('stg_postgres__orders') }} as orders on orders.order_id = sales.order_id
    where sales.settled_date <= merchants.as_of
),

paid as (
    select payments.order_id, sum(cast(round(payments.amount * 100) as bigint)) as paid_cents
    from {{ ref('stg_postgres__payments') }} as payments
    inner join merchants on merchants.merchant_id = payments.merchant_id
    where payments.paid_date <= merchants.as_of
    group by payments.order_id
),

offsets as (
    select refunds.order_id, sum(refunds.offset_cents) as offset_cents
    from {{ ref('stg_postgres__refunds') }} as refunds
    inner join merchants on merchants.merchant_id = refunds.merchant_id
    where refunds.refunded_date <= merchants.as_of
    group by refunds.order_id
),

owed as (
    select
        sales.*,
        cast(coalesce(paid.paid_cents, 0) as bigint) as paid_cents,
        cast(coalesce(offsets.offset_cents, 0) as bigint) as offset_cents,
        cast(sales.gross_cents - coalesce(paid.paid_cents, 0) - coalesce(offsets.offset_cents, 0) as bigint)
            as open_cents,
        cast({{ dbt.datediff("sales.receivable_due_date", "sales.as_of", "day") }} as integer) as days_past_due
    from sales
    left join paid on paid.order_id = sales.order_id
    left join offsets on offsets.order_id = sales.order_id
)

select
    order_id,
    merchant_id,
    order_no,
    customer_id,
    payment_method,
    case when payment_method = 'credit' then 'credit_' || credit_term_days || 'd' else payment_method end
        as credit_term,
    credit_term_days,
    settled_date,
    receivable_due_date,
    gross_cents,
    paid_cents,
    offset_cents,
    open_cents,
    greatest(days_past_due, 0) as days_overdue,
    {{ receivable_overdue_bucket('days_past_due') }} as overdue_bucket,
    as_of
from owed
where open_cents > 0
