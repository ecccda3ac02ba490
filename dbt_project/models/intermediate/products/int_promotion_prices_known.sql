-- Every promotion price (促销价) the merchant had recorded, or had in force, by its as_of, with its
-- business days and how deep it cuts the SKU's shelf price. Only the prices every customer pays
-- count: a member's or a wholesale buyer's price, or one region's, moves part of the demand only.
-- The depth is against the shelf price in force on its first day, or at as_of for one starting
-- later (a price set after as_of was not known yet); the SKU's price now if it had none by then.
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
),

priced as (
    select
        promotion_prices.*,
        coalesce(shelf_prices.unit_price, products.price) as shelf_price
    from promotion_prices
    inner join {{ ref('stg_postgres__products') }} as products
        on products.product_id = promotion_prices.product_id
    left join {{ ref('int_shelf_prices_dated') }} as shelf_prices
        on shelf_prices.product_id = promotion_prices.product_id
        and shelf_prices.valid_from_date <= least(promotion_prices.starts_date, promotion_prices.as_of)
        and coalesce(shelf_prices.valid_until_date > least(promotion_prices.starts_date, promotion_prices.as_of), true)
)

select
    promotion_price_id,
    merchant_id,
    product_id,
    label,
    starts_date,
    ends_date,
    least(recorded_date, starts_date) as known_date,
    -- The same depth a flash sale has: the share of the SKU's shelf price it takes off.
    greatest(0, 100 * cast(shelf_price - promotion_price as double) / nullif(cast(shelf_price as double), 0))
        as percent_off,
    as_of
from priced
where least(recorded_date, starts_date) <= as_of
