-- The funnel of each SKU per merchant × business day, days with any event of the SKU: exposure
-- → product view → cart → purchase (a visit names no product, so the SKU funnel starts at the
-- exposure and its overall conversion is from the view). Stages count sessions.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

products as (
    select product_id, sku_code
    from {{ ref('stg_postgres__products') }}
),

skus as (
    select *
    from {{ ref('int_funnel_events_aggregated') }}
    where not is_shop_total
)

select
    skus.merchant_id,
    merchants.merchant_code,
    skus.product_id,
    products.sku_code,
    skus.event_date as funnel_date,
    skus.exposures,
    skus.product_views,
    skus.cart_adds,
    skus.purchases,
    skus.exposure_sessions,
    skus.product_view_sessions,
    skus.cart_add_sessions,
    skus.purchase_sessions,
    {{ safe_ratio('skus.product_view_sessions', 'skus.exposure_sessions') }} as exposure_to_view_rate,
    {{ safe_ratio('skus.cart_add_sessions', 'skus.product_view_sessions') }} as view_to_cart_rate,
    {{ safe_ratio('skus.purchase_sessions', 'skus.cart_add_sessions') }} as cart_to_purchase_rate,
    {{ safe_ratio('skus.purchase_sessions', 'skus.product_view_sessions') }} as view_to_purchase_rate,
    merchants.as_of
from skus
inner join merchants on merchants.merchant_id = skus.merchant_id
inner join products on products.product_id = skus.product_id
