-- Platform commission per merchant × month × leaf category (the category whose rate the sale
-- line was charged): gross sales posted and the commission on them, dated by the sale's
-- posting; refunds and the commission they gave back, dated by the refund's posting. Nothing
-- posted after the merchant's as_of. The journal only holds each entry's total commission, so
-- the split by category comes from the sale and refund lines (a singular test ties the totals
-- back to the journal).

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

sale_lines as (
    select order_line_id, order_id, merchant_id, category_id, commission_rate, gross_cents, commission_cents
    from {{ ref('stg_postgres__sale_lines') }}
),

postings as (
    select
        sale_lines.merchant_id,
        sale_lines.category_id,
        cast(date_trunc('month', sales.settled_date) as date) as posting_month,
        sale_lines.commission_rate,
        sale_lines.gross_cents,
        sale_lines.commission_cents,
        0 as refunded_cents,
        0 as commission_refunded_cents
    from sale_lines
    inner join {{ ref('stg_postgres__sales') }} as sales on sales.order_id = sale_lines.order_id
    inner join merchants on merchants.merchant_id = sales.merchant_id
    where sales.settled_date <= merchants.as_of
    union all
    select
        sale_lines.merchant_id,
        sale_lines.category_id,
        cast(date_trunc('month', refunds.refunded_date) as date) as posting_month,
        null as commission_rate,
        0 as gross_cents,
        0 as commission_cents,
        refund_lines.amount_cents as refunded_cents,
        refund_lines.commission_cents as commission_refunded_cents
    from {{ ref('stg_postgres__refund_lines') }} as refund_lines
    inner join {{ ref('stg_postgres__refunds') }} as refunds on refunds.refund_id = refund_lines.refund_id
    inner join sale_lines on sale_lines.order_line_id = refund_lines.order_line_id
    inner join merchants on merchants.merchant_id = refunds.merchant_id
    where refunds.refunded_date <= merchants.as_of
),

monthly as (
    select
        merchant_id,
        category_id,
        posting_month,
        count(commission_rate) as sale_lines,
        min(commission_rate) as commission_rate_min,
        max(commission_rate) as commission_rate_max,
        sum(gross_cents) as gross_cents,
        sum(commission_cents) as commission_cents,
        sum(refunded_cents) as refunded_cents,
        sum(commission_refunded_cents) as commission_refunded_cents
    from postings
    group by merchant_id, category_id, posting_month
),

categories as (
    select category_id, category_code, category_name, parent_category_id
    from {{ ref('stg_postgres__categories') }}
)

select
    monthly.merchant_id,
    merchants.merchant_code,
    monthly.posting_month,
    monthly.category_id,
    categories.category_code,
    categories.category_name,
    parent.category_name as category_l2,
    grandparent.category_name as category_l1,
    cast(monthly.sale_lines as integer) as sale_lines,
    {{ cents_to_amount('monthly.gross_cents') }} as gross_sales,
    {{ cents_to_amount('monthly.commission_cents') }} as commission,
    {{ cents_to_amount('monthly.refunded_cents') }} as refunds,
    {{ cents_to_amount('monthly.commission_refunded_cents') }} as commission_refunded,
    {{ cents_to_amount('monthly.commission_cents - monthly.commission_refunded_cents') }} as net_commission,
    cast(case when monthly.gross_cents <> 0 then monthly.commission_cents / monthly.gross_cents end as double)
        as effective_rate,
    cast(monthly.commission_rate_min as double) as commission_rate_min,
    cast(monthly.commission_rate_max as double) as commission_rate_max,
    merchants.as_of
from monthly
inner join merchants on merchants.merchant_id = monthly.merchant_id
left join categories on categories.category_id = monthly.category_id
left join categories as parent on parent.category_id = categories.parent_category_id
left join categories as grandparent on grandparent.category_id = parent.parent_category_id
