with source as (
    select * from {{ source('raw', 'products') }}
)

select
    product_id,
    merchant_id,
    sku_code,
    name as sku_name,
    spec,
    unit,
    brand,
    origin,
    pack_size,
    pack_unit,
    product_group_id,
    category_id,
    supplier_id,
    shelf_life_days,
    unit_cost,
    price,
    lead_time_days,
    min_order_qty,
    order_multiple,
    low_stock_threshold,
    min_sale_qty,
    issue_policy,
    is_active,
    created_at,
    {{ business_date('created_at') }} as created_date,
    updated_at
from source
