-- Every product view and cart add names its product (a CHECK in core.funnel_events), so the
-- shop's daily counts must be the sums of its SKUs' counts; a row here is a day that lost or
-- double-counted events between the two funnels.

with skus as (
    select
        merchant_id,
        funnel_date,
        sum(product_views) as product_views,
        sum(cart_adds) as cart_adds
    from {{ ref('fct_funnel_sku_daily') }}
    group by merchant_id, funnel_date
)

select
    shop.merchant_code,
    shop.funnel_date,
    shop.product_views,
    skus.product_views as sku_product_views,
    shop.cart_adds,
    skus.cart_adds as sku_cart_adds
from {{ ref('fct_funnel_daily') }} as shop
full outer join skus
    on skus.merchant_id = shop.merchant_id
    and skus.funnel_date = shop.funnel_date
where coalesce(shop.product_views, 0) <> coalesce(skus.product_views, 0)
   or coalesce(shop.cart_adds, 0) <> coalesce(skus.cart_adds, 0)
