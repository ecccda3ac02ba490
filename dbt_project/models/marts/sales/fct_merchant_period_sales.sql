-- Sales per merchant × period (day, ISO week from Monday, month, quarter), periods with sales
-- only. Imported amount-only history counts in orders, customers and revenue (and can make a
-- customer returning) but has no cost, so gross profit covers the SKU lines only. A new
-- customer is one whose first order with the merchant falls in the period.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

customer_periods as (
    select
        merchant_id,
        customer_id,
        period,
        period_start,
        first_ordered_date,
        orders,
        sku_revenue,
        amount_only_revenue,
        cost
    from {{ ref('int_customer_period_sales_aggregated') }}
),

period_sales as (
    select
        merchant_id,
        period,
        period_start,
        sum(orders) as orders,
        count(distinct customer_id) as customers,
        count(distinct customer_id) filter (where first_ordered_date >= period_start) as new_customers,
        sum(sku_revenue + amount_only_revenue) as revenue,
        sum(sku_revenue) as sku_revenue,
        sum(amount_only_revenue) as amount_only_revenue,
        sum(cost) as cost,
        coalesce(
            sum(sku_revenue + amount_only_revenue) filter (where first_ordered_date >= period_start), 0
        ) as new_customer_revenue
    from customer_periods
    group by merchant_id, period, period_start
)

select
    period_sales.merchant_id,
    merchants.merchant_code,
    {{ sales_period_columns('period_sales.period', 'period_sales.period_start', 'merchants.as_of') }},
    cast(period_sales.orders as integer) as orders,
    cast(period_sales.customers as integer) as customers,
    cast(period_sales.new_customers as integer) as new_customers,
    cast(period_sales.customers - period_sales.new_customers as integer) as returning_customers,
    cast(period_sales.revenue as decimal(18, 2)) as revenue,
    cast(period_sales.sku_revenue as decimal(18, 2)) as sku_revenue,
    cast(period_sales.amount_only_revenue as decimal(18, 2)) as amount_only_revenue,
    cast(period_sales.cost as decimal(18, 2)) as cost,
    cast(period_sales.sku_revenue - period_sales.cost as decimal(18, 2)) as gross_profit,
    {{ decimal_from_double(round_double('cast(period_sales.revenue as double) / period_sales.orders', 2), 18, 2) }}
        as average_order_value,
    cast(period_sales.new_customer_revenue as decimal(18, 2)) as new_customer_revenue,
    cast(period_sales.revenue - period_sales.new_customer_revenue as decimal(18, 2)) as returning_customer_revenue
from period_sales
inner join merchants on merchants.merchant_id = period_sales.merchant_id
