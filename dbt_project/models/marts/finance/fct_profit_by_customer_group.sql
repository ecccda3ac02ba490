-- Revenue, cost of goods sold and gross profit per merchant × month × customer group: customer
-- type × price tier (the customer's current ones) × value tier (at as_of, from dim_customers:
-- earlier months show their buyers by the tier they hold now). Revenue and cost as everywhere;
-- imported amount-only history counts in revenue and orders, and, having no cost, is shown
-- apart in amount_only_revenue and left out of gross profit and margin.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
),

customers as (
    select customers.customer_id, customers.customer_type, customers.price_tier, tiers.value_tier
    from {{ ref('stg_postgres__customers') }} as customers
    left join {{ ref('dim_customers') }} as tiers on tiers.customer_id = customers.customer_id
),

sales as (
    select
        merchant_id,
        order_id,
        customer_id,
        ordered_date,
        revenue,
        cost,
        cast(0 as decimal(18, 2)) as amount_only_revenue
    from {{ ref('int_order_lines_enriched') }}
    union all
    select
        merchant_id,
        order_id,
        customer_id,
        ordered_date,
        revenue,
        cast(0 as decimal(18, 2)) as cost,
        revenue as amount_only_revenue
    from {{ ref('int_orders_amount_only') }}
),

monthly as (
    select
        sales.merchant_id,
        cast(date_trunc('month', sales.ordered_date) as date) as sales_month,
        customers.customer_type,
        customers.price_tier,
        coalesce(customers.value_tier, 'none') as value_tier,
        count(distinct sales.order_id) as orders,
        count(distinct sales.customer_id) as customers,
        sum(sales.revenue) as revenue,
        sum(sales.cost) as cost,
        sum(sales.amount_only_revenue) as amount_only_revenue
    from sales
    inner join customers on customers.customer_id = sales.customer_id
    group by all
)

select
    monthly.merchant_id,
    merchants.merchant_code,
    monthly.sales_month,
    monthly.customer_type,
    monthly.price_tier,
    monthly.value_tier,
    cast(monthly.orders as integer) as orders,
    cast(monthly.customers as integer) as customers,
    cast(monthly.revenue as decimal(18, 2)) as revenue,
    cast(monthly.cost as decimal(18, 2)) as cost,
    cast(monthly.revenue - monthly.amount_only_revenue - monthly.cost as decimal(18, 2)) as gross_profit,
    cast(
        case
            when monthly.revenue - monthly.amount_only_revenue <> 0
                then cast(monthly.revenue - monthly.amount_only_revenue - monthly.cost as double)
                    / (monthly.revenue - monthly.amount_only_revenue)
        end as double
    ) as gross_margin,
    cast(monthly.amount_only_revenue as decimal(18, 2)) as amount_only_revenue,
    merchants.as_of
from monthly
inner join merchants on merchants.merchant_id = monthly.merchant_id
