-- RFM per merchant × customer with an order in the last rfm_window_days days up to as_of:
-- recency (days since the last purchase), frequency (orders in the window), monetary (their
-- net amount), each scored 1..rfm_score_levels by quantile within the merchant, the RFM cell and
-- a named segment. Customers with no order in the window are not scored (dim_customers shows
-- them as sleeping).
{%- set window_days = var("rfm_window_days") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

customers as (
    select customer_id, customer_code
    from {{ ref('stg_postgres__customers') }}
),

window_orders as (
    select orders.merchant_id, orders.customer_id, orders.ordered_date, orders.order_amount
    from {{ ref('int_customer_orders_unioned') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date >= {{ trailing_window_start('merchants.as_of', window_days) }}
),

rfm as (
    select
        window_orders.merchant_id,
        window_orders.customer_id,
        merchants.as_of - max(window_orders.ordered_date) as recency_days,
        count(*) as frequency,
        sum(window_orders.order_amount) as monetary
    from window_orders
    inner join merchants on merchants.merchant_id = window_orders.merchant_id
    group by window_orders.merchant_id, window_orders.customer_id, merchants.as_of
),

-- For each measure: how many of the merchant's scored customers are no better than this one
-- (the window frame takes in equal values, so ties share a count and a score).
ranked as (
    select
        *,
        count(*) over (partition by merchant_id) as scored_customers,
        count(*) over (
            partition by merchant_id order by recency_days desc
            range between unbounded preceding and current row
        ) as recency_no_better,
        count(*) over (
            partition by merchant_id order by frequency
            range between unbounded preceding and current row
        ) as frequency_no_better,
        count(*) over (
            partition by merchant_id order by monetary
            range between unbounded preceding and current row
        ) as monetary_no_better
    from rfm
),

scored as (
    select
        *,
        {{ quantile_score('recency_no_better', 'scored_customers') }} as recency_score,
        {{ quantile_score('frequency_no_better', 'scored_customers') }} as frequency_score,
        {{ quantile_score('monetary_no_better', 'scored_customers') }} as monetary_score
    from ranked
)

select
    scored.merchant_id,
    merchants.merchant_code,
    scored.customer_id,
    customers.customer_code,
    merchants.as_of,
    cast(scored.recency_days as integer) as recency_days,
    cast(scored.frequency as integer) as frequency,
    cast(scored.monetary as decimal(18, 2)) as monetary,
    scored.recency_score,
    scored.frequency_score,
    scored.monetary_score,
    cast(scored.recency_score as {{ dbt.type_string() }})
        || cast(scored.frequency_score as {{ dbt.type_string() }})
        || cast(scored.monetary_score as {{ dbt.type_string() }}) as rfm_cell,
    {{ rfm_segment('scored.recency_score', 'scored.frequency_score') }} as rfm_segment
from scored
inner join merchants on merchants.merchant_id = scored.merchant_id
inner join customers on customers.customer_id = scored.customer_id
