-- Repurchase rate per merchant × calendar month of purchase: of the customers who bought in the
-- month, the share who bought again on a later day within repurchase_window_days of their first
-- purchase day in that month. A month is complete once the window of its last day has closed by
-- as_of; before that its rate can still rise. Beside it, the rolling rate over the last
-- repurchase_trailing_months complete months.
{%- set window_days = var("repurchase_window_days") | int %}
{%- set trailing_months = var("repurchase_trailing_months") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

purchase_days as (
    select distinct merchant_id, customer_id, ordered_date
    from {{ ref('int_customer_orders_unioned') }}
),

-- Orders after as_of are already gone, so a window still open only sees purchases up to as_of.
next_purchases as (
    select
        merchant_id,
        customer_id,
        ordered_date,
        date_trunc('month', ordered_date) as purchase_month,
        lead(ordered_date) over (partition by merchant_id, customer_id order by ordered_date) as next_purchase_date
    from purchase_days
),

first_in_month as (
    select
        merchant_id,
        customer_id,
        purchase_month,
        ordered_date,
        next_purchase_date
    from (
        select
            *,
            row_number() over (partition by merchant_id, customer_id, purchase_month order by ordered_date) as day_in_month
        from next_purchases
    ) as numbered
    where day_in_month = 1
),

monthly as (
    select
        merchant_id,
        cast(purchase_month as date) as purchase_month,
        count(*) as buyers,
        count(*) filter (where next_purchase_date <= ordered_date + {{ window_days }}) as repurchasers
    from first_in_month
    group by merchant_id, purchase_month
),

flagged as (
    select
        monthly.*,
        merchants.merchant_code,
        merchants.as_of,
        cast(monthly.purchase_month + interval 1 month - interval 1 day as date) + {{ window_days }}
            <= merchants.as_of as is_complete
    from monthly
    inner join merchants on merchants.merchant_id = monthly.merchant_id
),

-- Complete months come before incomplete ones, so a complete month's trailing window holds
-- only complete months.
rolling as (
    select
        *,
        sum(buyers) over last_months as trailing_buyers,
        sum(repurchasers) over last_months as trailing_repurchasers
    from flagged
    window last_months as (
        partition by merchant_id order by purchase_month
        range between interval {{ trailing_months - 1 }} month preceding and current row
    )
)

select
    merchant_id,
    merchant_code,
    purchase_month,
    as_of,
    cast(buyers as integer) as buyers,
    cast(repurchasers as integer) as repurchasers,
    cast(repurchasers as double) / buyers as repurchase_rate,
    is_complete,
    cast(case when is_complete then trailing_buyers end as integer) as trailing_buyers,
    cast(case when is_complete then trailing_repurchasers end as integer) as trailing_repurchasers,
    case when is_complete then cast(trailing_repurchasers as double) / trailing_buyers end as trailing_repurchase_rate
from rolling
