-- The shop's funnel per merchant × business day: exposure → visit → product view → cart →
-- purchase → repurchase. Stages count sessions (a session reaches a stage with at least one event
-- of it); conversions are sessions at a stage ÷ sessions at the stage before.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

shop as (
    select *
    from {{ ref('int_funnel_events_aggregated') }}
    where is_shop_total
),

repurchase as (
    select
        merchant_id,
        period_start as funnel_date,
        buying_customers,
        repurchased_customers,
        repurchase_rate,
        is_complete
    from {{ ref('fct_funnel_repurchase') }}
    where period_grain = 'day'
)

select
    shop.merchant_id,
    merchants.merchant_code,
    shop.event_date as funnel_date,
    shop.exposures,
    shop.visits,
    shop.product_views,
    shop.cart_adds,
    shop.purchases,
    shop.exposure_sessions,
    shop.visit_sessions,
    shop.product_view_sessions,
    shop.cart_add_sessions,
    shop.purchase_sessions,
    {{ safe_ratio('shop.visit_sessions', 'shop.exposure_sessions') }} as exposure_to_visit_rate,
    {{ safe_ratio('shop.product_view_sessions', 'shop.visit_sessions') }} as visit_to_view_rate,
    {{ safe_ratio('shop.cart_add_sessions', 'shop.product_view_sessions') }} as view_to_cart_rate,
    {{ safe_ratio('shop.purchase_sessions', 'shop.cart_add_sessions') }} as cart_to_purchase_rate,
    {{ safe_ratio('shop.purchase_sessions', 'shop.visit_sessions') }} as visit_to_purchase_rate,
    coalesce(repurchase.buying_customers, 0) as buying_customers,
    coalesce(repurchase.repurchased_customers, 0) as repurchased_customers,
    repurchase.repurchase_rate,
    coalesce(repurchase.is_complete, shop.event_date + {{ var('repurchase_window_days') | int }} <= merchants.as_of)
        as is_repurchase_complete,
    merchants.as_of
from shop
inner join merchants on merchants.merchant_id = shop.merchant_id
left join repurchase
    on repurchase.merchant_id = shop.merchant_id
    and repurchase.funnel_date = shop.event_date
