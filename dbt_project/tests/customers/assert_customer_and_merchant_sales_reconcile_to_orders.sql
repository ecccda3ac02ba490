-- Customer and merchant revenue both reconcile to the order lines plus the amount-only history:
-- per merchant, Σ dim_customers.amount = Σ fct_merchant_annual_sales.sales = Σ line revenue of
-- int_order_lines_enriched + Σ int_orders_amount_only. One row per merchant that disagrees.

with lines as (
    select merchant_id, sum(revenue) as revenue
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id
),

amount_only as (
    select merchant_id, sum(revenue) as revenue
    from {{ ref('int_orders_amount_only') }}
    group by merchant_id
),

customers as (
    select merchant_id, sum(amount) as revenue
    from {{ ref('dim_customers') }}
    group by merchant_id
),

annual as (
    select merchant_id, sum(sales) as revenue
    from {{ ref('fct_merchant_annual_sales') }}
    group by merchant_id
),

merchants as (
    select merchant_id from lines
    union
    select merchant_id from amount_only
),

compared as (
    select
        merchants.merchant_id,
        coalesce(lines.revenue, 0) + coalesce(amount_only.revenue, 0) as order_revenue,
        coalesce(customers.revenue, 0) as customer_revenue,
        coalesce(annual.revenue, 0) as annual_revenue
    from merchants
    left join lines on lines.merchant_id = merchants.merchant_id
    left join amount_only on amount_only.merchant_id = merchants.merchant_id
    left join customers on customers.merchant_id = merchants.merchant_id
    left join annual on annual.merchant_id = merchants.merchant_id
)

select *
from compared
where customer_revenue <> order_revenue or annual_revenue <> order_revenue
