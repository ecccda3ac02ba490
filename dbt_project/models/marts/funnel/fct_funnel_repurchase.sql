-- Repurchase, the funnel's last stage, per merchant × purchase day and × purchase month: the
-- customers who bought in the period, and how many bought again within repurchase_window_days
-- of their first purchase day in it. Purchases are orders not cancelled by as_of; a second order
-- on the same day is the same shopping trip, so coming back needs a later day.

{%- set window_days = var('repurchase_window_days') | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

customer_days as (
    select distinct
        orders.merchant_id,
        orders.customer_id,
        orders.ordered_date
    from {{ ref('stg_postgres__orders') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.customer_id is not null
      and orders.ordered_date <= merchants.as_of
      and (orders.cancelled_date is null or orders.cancelled_date > merchants.as_of)
),

sequenced as (
    select
        merchant_id,
        customer_id,
        ordered_date,
        lead(ordered_date) over purchases as next_ordered_date,
        row_number() over purchases = 1 as is_first_purchase
    from customer_days
    window purchases as (partition by merchant_id, customer_id order by ordered_date)
),

-- One row per customer and period: the customer's first purchase day in the period.
customer_periods as (
    select
        merchant_id,
        customer_id,
        'day' as period_grain,
        ordered_date as period_start,
        ordered_date as period_end,
        ordered_date as first_ordered_date,
        next_ordered_date,
        is_first_purchase
    from sequenced
    union all
    select
        merchant_id,
        customer_id,
        'month' as period_grain,
        cast(date_trunc('month', ordered_date) as date) as period_start,
        last_day(ordered_date) as period_end,
        min(ordered_date) as first_ordered_date,
        min_by(next_ordered_date, ordered_date) as next_ordered_date,
        bool_or(is_first_purchase) as is_first_purchase
    from sequenced
    group by merchant_id, customer_id, date_trunc('month', ordered_date), last_day(ordered_date)
),

flagged as (
    select
        *,
        coalesce(next_ordered_date <= first_ordered_date + {{ window_days }}, false) as has_repurchased
    from customer_periods
),

periods as (
    select
        merchant_id,
        period_grain,
        period_start,
        period_end,
        count(*) as buying_customers,
        count(*) filter (where has_repurchased) as repurchased_customers,
        count(*) filter (where is_first_purchase) as new_customers,
        count(*) filter (where is_first_purchase and has_repurchased) as new_customers_repurchased
    from flagged
    group by merchant_id, period_grain, period_start, period_end
)

select
    periods.merchant_id,
    merchants.merchant_code,
    periods.period_grain,
    periods.period_start,
    periods.period_end,
    cast(periods.buying_customers as integer) as buying_customers,
    cast(periods.repurchased_customers as integer) as repurchased_customers,
    {{ safe_ratio('periods.repurchased_customers', 'periods.buying_customers') }} as repurchase_rate,
    cast(periods.new_customers as integer) as new_customers,
    cast(periods.new_customers_repurchased as integer) as new_customers_repurchased,
    {{ safe_ratio('periods.new_customers_repurchased', 'periods.new_customers') }} as new_customer_repurchase_rate,
    periods.period_end + {{ window_days }} <= merchants.as_of as is_complete,
    merchants.as_of
from periods
inner join merchants on merchants.merchant_id = periods.merchant_id
