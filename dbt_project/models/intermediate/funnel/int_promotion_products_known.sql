-- Every promotion the merchant knew of at its as_of (created, or started, by then; it may start
-- later) × each SKU in its scope (one SKU, every SKU under a category at any level of the tree,
-- or the whole shop), with the promotion's days and how deep it cuts the SKU's price.
-- A promotion runs over [starts_at, ends_at); it covers each business day it touches, whole.
-- A flash sale's depth is against the shelf price in force on its first day, or at as_of for one
-- starting later (a price set after as_of was not known yet); the SKU's price now if it had none.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

promotions as (
    select
        promotions.promotion_id,
        promotions.merchant_id,
        promotions.promotion_code,
        promotions.promotion_name,
        promotions.kind,
        promotions.product_id,
        promotions.category_id,
        promotions.percent_off,
        promotions.flash_price,
        promotions.starts_date,
        {{ last_business_date_before('promotions.ends_at') }} as ends_date,
        least(promotions.created_date, promotions.starts_date) as known_date,
        merchants.as_of
    from {{ ref('stg_postgres__promotions') }} as promotions
    inner join merchants on merchants.merchant_id = promotions.merchant_id
    where least(promotions.created_date, promotions.starts_date) <= merchants.as_of
),

categories as (
    select category_id, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

-- A product sits in a leaf; its leaf and the leaf's ancestors are the categories that cover it.
product_categories as (
    select
        products.product_id,
        products.merchant_id,
        products.price,
        leaf.category_id as leaf_category_id,
        parent.category_id as parent_category_id,
        grandparent.category_id as grandparent_category_id
    from {{ ref('stg_postgres__products') }} as products
    left join categories as leaf on leaf.category_id = products.category_id
    left join categories as parent on parent.category_id = leaf.parent_category_id
    left join categories as grandparent on grandparent.category_id = parent.parent_category_id
)

select
    promotions.promotion_id,
    promotions.merchant_id,
    promotions.promotion_code,
    promotions.promotion_name,
    promotions.kind as promotion_kind,
    case
        when promotions.product_id is not null then 'sku'
        when promotions.category_id is not null then 'category'
        else 'shop'
    end as promotion_scope,
    product_categories.product_id,
    promotions.starts_date,
    promotions.ends_date,
    promotions.known_date,
    -- A full reduction (满减) takes money off a basket over its threshold, not off a SKU's price,
    -- so it has no depth per SKU.
    case promotions.kind
        when 'percentage' then cast(promotions.percent_off as double)
        when 'flash_sale' then 100 * (
            1 - cast(promotions.flash_price as double)
            / nullif(coalesce(shelf_prices.unit_price, product_categories.price), 0)
        )
    end as percent_off,
    promotions.as_of
from promotions
inner join product_categories
    on product_categories.merchant_id = promotions.merchant_id
    and (
        product_categories.product_id = promotions.product_id
        or promotions.category_id in (
            product_categories.leaf_category_id,
            product_categories.parent_category_id,
            product_categories.grandparent_category_id
        )
        or (promotions.product_id is null and promotions.category_id is null)
    )
left join {{ ref('int_shelf_prices_dated') }} as shelf_prices
    on shelf_prices.product_id = product_categories.product_id
    and shelf_prices.valid_from_date <= least(promotions.starts_date, promotions.as_of)
    and coalesce(shelf_prices.valid_until_date > least(promotions.starts_date, promotions.as_of), true)
