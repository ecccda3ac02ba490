-- One as_of per merchant: the run's fixed date when var as_of is set, otherwise the merchant's
-- last business date with orders. Every other model reads its cut-off from here.
{%- set fixed_as_of = as_of_override() %}

with merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

{% if fixed_as_of is not none %}

as_of_dates as (
    select merchant_id, date '{{ fixed_as_of }}' as as_of
    from merchants
)

{% else %}

last_order_dates as (
    select merchant_id, max(ordered_date) as last_ordered_date
    from {{ ref('stg_postgres__orders') }}
    group by merchant_id
),

-- A merchant that keeps stock but has taken no order yet (new, or only imported stock) still
-- gets stock flags: its as_of falls back to the last day its stock ledger moved.
last_movement_dates as (
    select merchant_id, max(occurred_date) as last_movement_date
    from {{ ref('stg_postgres__stock_movements') }}
    group by merchant_id
),

as_of_dates as (
    select
        merchants.merchant_id,
        coalesce(last_order_dates.last_ordered_date, last_movement_dates.last_movement_date) as as_of
    from merchants
    left join last_order_dates on last_order_dates.merchant_id = merchants.merchant_id
    left join last_movement_dates on last_movement_dates.merchant_id = merchants.merchant_id
)

{% endif %}

select
    merchants.merchant_id,
    merchants.merchant_code,
    as_of_dates.as_of
from merchants
inner join as_of_dates on as_of_dates.merchant_id = merchants.merchant_id
