-- Shop traffic per merchant × business day, once for the whole shop (product_id NULL) and once
-- per SKU, from one read of the events: every funnel mart reads this, never the raw events.
-- A session is counted at a stage when it has at least one event of that stage. A purchase
-- event names an order, not a product: per SKU it counts for each product on the order's lines.
-- Daily partitions: a run with a partition window rebuilds only those days (macros/partitions.sql).

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ replace_partition_window('event_date') }}",
        tags=['daily_partitioned'],
    )
}}

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

-- The business date of each event comes from its quarter hour (every time zone's offset is a
-- whole number of quarter hours): converting each of the county's 114 M events through the
-- time-zone database took four times as long as the rest of this model.
source_events as (
    select
        merchant_id,
        occurred_at,
        {{ integer_divide(epoch_microseconds('occurred_at'), 15 * 60 * 1000000) }} as quarter_hour,
        session_id,
        product_id,
        order_id,
        event_type
    from {{ ref('stg_postgres__funnel_events') }}
    {%- set window = partition_window() %}
    {%- if window is not none %}
    -- A day's events lie within a day of its UTC midnight; the exact cut is on the business date.
    where occurred_at >= cast(date '{{ window[0] }}' - 1 as {{ type_timestamptz() }})
      and occurred_at < cast(date '{{ window[1] }}' + 1 as {{ type_timestamptz() }})
    {%- endif %}
),

quarter_hours as (
    select
        quarter_hour,
        {{ business_date(instant_from_epoch_seconds('quarter_hour * ' ~ (15 * 60))) }} as occurred_date
    from (select distinct quarter_hour from source_events)
),

-- Materialized: both aggregates below read it.
events as {{ materialized_cte() }} (
    select
        source_events.merchant_id,
        quarter_hours.occurred_date,
        source_events.session_id,
        source_events.product_id,
        source_events.order_id,
        source_events.event_type
    from source_events
    inner join quarter_hours on quarter_hours.quarter_hour = source_events.quarter_hour
    inner join merchants on merchants.merchant_id = source_events.merchant_id
    where quarter_hours.occurred_date <= merchants.as_of
      and {{ in_partition_window('quarter_hours.occurred_date') }}
),

order_products as (
    select distinct order_id, product_id
    from {{ ref('stg_postgres__order_lines') }}
),

-- Product events as they are, and each purchase once per product on its order's lines.
product_events as (
    select merchant_id, occurred_date, session_id, product_id, order_id, event_type
    from events
    where product_id is not null
    union all
    select
        events.merchant_id,
        events.occurred_date,
        events.session_id,
        order_products.product_id,
        events.order_id,
        events.event_type
    from events
    inner join order_products on order_products.order_id = events.order_id
    where events.event_type = 5
),

shop as (
    select
        merchant_id,
        occurred_date,
        cast(null as bigint) as product_id,
        true as is_shop_total,
        {{ funnel_stage_counts() }}
    from events
    group by merchant_id, occurred_date
),

products as (
    select
        merchant_id,
        occurred_date,
        product_id,
        false as is_shop_total,
        {{ funnel_stage_counts() }}
    from product_events
    group by merchant_id, occurred_date, product_id
),

aggregated as (
    select * from shop
    union all
    select * from products
)

select
    merchant_id,
    occurred_date as event_date,
    product_id,
    is_shop_total,
    cast(exposures as integer) as exposures,
    cast(visits as integer) as visits,
    cast(product_views as integer) as product_views,
    cast(cart_adds as integer) as cart_adds,
    cast(purchases as integer) as purchases,
    cast(exposure_sessions as integer) as exposure_sessions,
    cast(visit_sessions as integer) as visit_sessions,
    cast(product_view_sessions as integer) as product_view_sessions,
    cast(cart_add_sessions as integer) as cart_add_sessions,
    cast(purchase_sessions as integer) as purchase_sessions
from aggregated
