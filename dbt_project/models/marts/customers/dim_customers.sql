-- One row per merchant × customer at the merchant's as_of: who the customer is, what it has
-- bought (SKU orders and imported amount-only history alike), its value tier, whether it is
-- sleeping and its purchase habits. Customers created after as_of are left out unless imported
-- history dates their first purchase earlier.
{%- set tier_window_days = var("customer_tier_window_days") | int %}
{%- set sleeping_days = var("sleeping_customer_days") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

customers as (
    select
        customer_id,
        merchant_id,
        customer_code,
        customer_name,
        customer_type,
        region,
        price_tier,
        credit_limit,
        created_date
    from {{ ref('stg_postgres__customers') }}
),

orders as (
    select
        orders.merchant_id,
        orders.customer_id,
        orders.ordered_date,
        orders.order_amount,
        orders.is_amount_only,
        orders.ordered_date >= {{ trailing_window_start('merchants.as_of', tier_window_days) }} as is_in_tier_window
    from {{ ref('int_customer_orders_unioned') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
),

purchases as (
    select
        merchant_id,
        customer_id,
        min(ordered_date) as first_purchase_date,
        max(ordered_date) as last_purchase_date,
        count(*) as orders,
        count(distinct ordered_date) as purchase_days,
        sum(order_amount) as amount,
        sum(case when is_amount_only then order_amount else 0 end) as amount_only_amount,
        count(*) filter (where is_in_tier_window) as tier_window_orders,
        coalesce(sum(order_amount) filter (where is_in_tier_window), 0) as tier_window_amount
    from orders
    group by merchant_id, customer_id
),

-- Only customers with a positive amount in the window are ranked; RANK() gives equal amounts the
-- same (better) position, so they always share a tier.
tier_positions as (
    select
        merchant_id,
        customer_id,
        rank() over (partition by merchant_id order by tier_window_amount desc) as tier_position,
        count(*) over (partition by merchant_id) as tiered_population
    from purchases
    where tier_window_amount > 0
),

habits as (
    select merchant_id, customer_id, main_category_l1, preferred_weekday
    from {{ ref('int_customer_habits_aggregated') }}
),

customer_orders as (
    select order_id, customer_id
    from {{ ref('stg_postgres__orders') }}
),

-- Returns are counted by request date, apart from revenue; one rejected by as_of does not count.
returns as (
    select
        returns.merchant_id,
        customer_orders.customer_id,
        count(*) as returns
    from {{ ref('stg_postgres__returns') }} as returns
    inner join merchants on merchants.merchant_id = returns.merchant_id
    inner join customer_orders on customer_orders.order_id = returns.order_id
    where returns.requested_date <= merchants.as_of
      and (returns.rejected_date is null or returns.rejected_date > merchants.as_of)
    group by returns.merchant_id, customer_orders.customer_id
),

joined as (
    select
        customers.merchant_id,
        merchants.merchant_code,
        customers.customer_id,
        customers.customer_code,
        customers.customer_name,
        customers.customer_type,
        customers.region,
        customers.price_tier,
        customers.credit_limit,
        merchants.as_of,
        purchases.first_purchase_date,
        purchases.last_purchase_date,
        {{ dbt.datediff("purchases.last_purchase_date", "merchants.as_of", "day") }} as days_since_last_purchase,
        coalesce(purchases.orders, 0) as orders,
        coalesce(purchases.purchase_days, 0) as purchase_days,
        coalesce(purchases.amount, 0) as amount,
        coalesce(purchases.amount_only_amount, 0) as amount_only_amount,
        coalesce(purchases.tier_window_orders, 0) as tier_window_orders,
        coalesce(purchases.tier_window_amount, 0) as tier_window_amount,
        tier_positions.tier_position,
        tier_positions.tiered_population,
        case
            when purchases.purchase_days > 1
                then {{ dbt.datediff("purchases.first_purchase_date", "purchases.last_purchase_date", "day") }} / (purchases.purchase_days - 1)
        end as avg_days_between_purchases,
        habits.main_category_l1,
        habits.preferred_weekday,
        coalesce(returns.returns, 0) as returns
    from customers
    inner join merchants on merchants.merchant_id = customers.merchant_id
    left join purchases
        on purchases.merchant_id = customers.merchant_id
        and purchases.customer_id = customers.customer_id
    left join tier_positions
        on tier_positions.merchant_id = customers.merchant_id
        and tier_positions.customer_id = customers.customer_id
    left join habits
        on habits.merchant_id = customers.merchant_id
        and habits.customer_id = customers.customer_id
    left join returns
        on returns.merchant_id = customers.merchant_id
        and returns.customer_id = customers.customer_id
    where customers.created_date <= merchants.as_of or purchases.customer_id is not null
)

select
    merchant_id,
    merchant_code,
    customer_id,
    customer_code,
    customer_name,
    customer_type,
    region,
    price_tier,
    cast(credit_limit as decimal(18, 2)) as credit_limit,
    as_of,
    first_purchase_date,
    last_purchase_date,
    cast(days_since_last_purchase as integer) as days_since_last_purchase,
    cast(orders as integer) as orders,
    cast(purchase_days as integer) as purchase_days,
    cast(amount as decimal(18, 2)) as amount,
    cast(amount_only_amount as decimal(18, 2)) as amount_only_amount,
    cast(tier_window_orders as integer) as tier_window_orders,
    cast(tier_window_amount as decimal(18, 2)) as tier_window_amount,
    cast(tier_position as integer) as tier_position,
    {{ customer_value_tier('tier_position', 'tiered_population') }} as value_tier,
    coalesce(days_since_last_purchase >= {{ sleeping_days }}, false) as is_sleeping,
    {{ decimal_from_double('case when orders > 0 then cast(amount as double) / orders end', 18, 2) }} as avg_order_value,
    cast(avg_days_between_purchases as double) as avg_days_between_purchases,
    {{ customer_habit_segment('purchase_days', 'avg_days_between_purchases') }} as habit_segment,
    main_category_l1,
    preferred_weekday,
    cast(returns as integer) as returns
from joined
