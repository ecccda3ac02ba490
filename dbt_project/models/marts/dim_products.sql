-- Products with their category path (Chinese names, leaf = level 3) and supplier.

with products as (
    select * from {{ ref('stg_postgres__products') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

categories as (
    select category_id, category_name, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

suppliers as (
    select supplier_id, supplier_code, supplier_name
    from {{ ref('stg_postgres__suppliers') }}
)

select
    products.merchant_id,
    merchants.merchant_code,
    products.product_id,
    products.sku_code,
    products.sku_name,
    products.spec,
    products.unit,
    level_1.category_name as category_l1,
    level_2.category_name as category_l2,
    level_3.category_name as category_l3,
    suppliers.supplier_code,
    suppliers.supplier_name,
    products.price,
    products.unit_cost,
    products.shelf_life_days,
    products.lead_time_days,
    products.min_order_qty,
    products.order_multiple,
    products.low_stock_threshold,
    products.is_active
from products
inner join merchants on merchants.merchant_id = products.merchant_id
left join categories as level_3 on level_3.category_id = products.category_id
left join categories as level_2 on level_2.category_id = level_3.parent_category_id
left join categories as level_1 on level_1.category_id = level_2.parent_category_id
left join suppliers on suppliers.supplier_id = products.supplier_id
