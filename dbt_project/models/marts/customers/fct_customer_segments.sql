-- Customers and revenue per merchant × customer type (industry) × region × habit segment at
-- as_of, read from dim_customers so the segments add up to its customers exactly. Revenue is
-- the trailing tier window's amount; shares are of the merchant's totals.

with customers as (
    select
        merchant_id,
        merchant_code,
        as_of,
        customer_type,
        region,
        habit_segment,
        orders,
        is_sleeping,
        value_tier,
        tier_window_amount
    from {{ ref('dim_customers') }}
),

segments as (
    select
        merchant_id,
        merchant_code,
        as_of,
        customer_type,
        region,
        habit_segment,
        count(*) as customers,
        count(*) filter (where orders > 0 and not is_sleeping) as active_customers,
        count(*) filter (where is_sleeping) as sleeping_customers,
        count(*) filter (where value_tier <> 'none') as tiered_customers,
        sum(tier_window_amount) as revenue
    from customers
    group by merchant_id, merchant_code, as_of, customer_type, region, habit_segment
)

select
    merchant_id,
    merchant_code,
    as_of,
    customer_type,
    region,
    habit_segment,
    cast(customers as integer) as customers,
    cast(active_customers as integer) as active_customers,
    cast(sleeping_customers as integer) as sleeping_customers,
    cast(tiered_customers as integer) as tiered_customers,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(customers as double) / sum(customers) over (partition by merchant_id) as customer_share,
    cast(revenue as double) / nullif(sum(revenue) over (partition by merchant_id), 0) as revenue_share
from segments
