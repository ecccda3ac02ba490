-- Every batch in stock at the merchant's as_of, per warehouse, with its expiry class.

with batches as (
    select * from {{ ref('int_stock_batches_classified') }}
    where on_hand > 0
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

warehouses as (
    select warehouse_id, warehouse_code
    from {{ ref('stg_postgres__warehouses') }}
),

products as (
    select product_id, sku_code
    from {{ ref('stg_postgres__products') }}
)

select
    batches.merchant_id,
    merchants.merchant_code,
    batches.warehouse_id,
    warehouses.warehouse_code,
    batches.product_id,
    products.sku_code,
    batches.batch_id,
    batches.lot_code,
    batches.received_date,
    batches.expiry_date,
    batches.on_hand,
    batches.reserved,
    batches.frozen,
    batches.available,
    batches.unit_cost,
    batches.stock_value,
    batches.days_to_expiry,
    batches.near_expiry_level,
    batches.is_expired,
    batches.as_of
from batches
inner join merchants on merchants.merchant_id = batches.merchant_id
inner join warehouses on warehouses.warehouse_id = batches.warehouse_id
inner join products on products.product_id = batches.product_id
