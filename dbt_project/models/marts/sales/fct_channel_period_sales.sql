-- Sales per merchant × channel × period (day, ISO week from Monday, month, quarter), periods
-- with sales only. Two channel dimensions, each a complete split of the merchant's revenue:
-- channel_type 'price_tier' is the customer's price tier (retail, wholesale, member: the sales
-- channel the customer buys through), channel_type 'order_source' is where the order was
-- recorded (platform, or import for history brought in from another system). Revenue includes
-- amount-only history.

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
        order_source,
        orders,
        sku_revenue + amount_only_revenue as revenue
    from {{ ref('int_customer_period_sales_aggregated') }}
),

customers as (
    select customer_id, price_tier
    from {{ ref('stg_postgres__customers') }}
),

period_sales as (
    select
        customer_periods.merchant_id,
        customer_periods.period,
        customer_periods.period_start,
        case when grouping(customers.price_tier) = 0 then 'price_tier' else 'order_source' end as channel_type,
        case
            when grouping(customers.price_tier) = 0 then customers.price_tier
            else customer_periods.order_source
        end as channel,
        sum(customer_periods.orders) as orders,
        count(distinct customer_periods.customer_id) as customers,
        sum(customer_periods.revenue) as revenue
    from customer_periods
    inner join customers on customers.customer_id = customer_periods.customer_id
    group by grouping sets (
        (customer_periods.merchant_id, customer_periods.period, customer_periods.period_start, customers.price_tier),
        (customer_periods.merchant_id, customer_periods.period, customer_periods.period_start, customer_periods.order_source)
    )
)

select
    period_sales.merchant_id,
    merchants.merchant_code,
    period_sales.channel_type,
    period_sales.channel,
    {{ sales_period_columns('period_sales.period', 'period_sales.period_start', 'merchants.as_of') }},
    cast(period_sales.orders as integer) as orders,
    cast(period_sales.customers as integer) as customers,
    cast(period_sales.revenue as decimal(18, 2)) as revenue,
    {{ decimal_from_double(round_double('cast(period_sales.revenue as double) / period_sales.orders', 2), 18, 2) }}
        as average_order_value,
    cast(
        cast(period_sales.revenue as double) / nullif(sum(period_sales.revenue) over (
            partition by period_sales.merchant_id, period_sales.channel_type, period_sales.period, period_sales.period_start
        ), 0) as double
    ) as revenue_share
from period_sales
inner join merchants on merchants.merchant_id = period_sales.merchant_id
