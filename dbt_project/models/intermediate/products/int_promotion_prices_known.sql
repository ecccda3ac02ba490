-- Every promotion price (促销价) the merchant had recorded, or had in force, by its as_of, with its
-- business days and how deep it cuts the SKU's shelf price. Only the prices every customer pays
-- count: a member's or a wholesale buyer's price, or one region's, moves part of the demand only.
-- A price is in force over [valid_from, valid_until); it covers each business day it touches, whole.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

promotion_prices as (
    select
        prices.promotion_price_id,
        prices.merchant_id,
        prices.product_id,
        prices.promotion_price,
        prices.label,
        {{ business_date('prices.valid_from') }} as starts_date,
        {{ last_business_date_before('prices.valid_until') }} as ends_date,
        prices.recorded_date,
        merchants.as_of
    from {{ ref('stg_postgres__product_promotion_prices') }} as prices
    inner join merchants on merchants.merchant_id = prices.merchant_id
    where (prices.tier is null or prices.tier = 'retail')
        and prices.region is null
)

select
    promotion_prices.promotion_price_id,
    promotion_prices.merchant_id,
    promotion_prices.product_id,
    promotion_prices.label,
    promotion_prices.starts_date,
    promotion_prices.ends_date,
    least(promotion_prices.recorded_date, promotion_prices.starts_date) as known_date,
    -- The same depth a flash sale has: the share of the SKU's price it takes off.
    greatest(
        0,
        100 * cast(products.price - promotion_prices.promotion_price as double)
        / nullif(cast(products.price as double), 0)
    ) as percent_off,
    promotion_prices.as_of
from promotion_prices
inner join {{ ref('stg_postgres__products') }} as products
    on products.product_id = promotion_prices.product_id
where least(promotion_prices.recorded_date, promotion_prices.starts_date) <= promotion_prices.as_of
