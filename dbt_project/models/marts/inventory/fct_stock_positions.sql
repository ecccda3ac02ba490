-- Stock per merchant × SKU × warehouse at the merchant's as_of: the batches of
-- fct_stock_on_hand summed, so its on_hand and stock_value reconcile with that table's rows
-- (tests/inventory). Every SKU × warehouse the ledger ever moved is kept, at zero too.

with batches as (
    select
        merchant_id,
        warehouse_id,
        product_id,
        as_of,
        received_date,
        on_hand,
        reserved,
        frozen,
        available,
        stock_value,
        is_expired
    from {{ ref('int_stock_batches_classified') }}
),

positions as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        as_of,
        sum(on_hand) as on_hand,
        sum(reserved) as reserved,
        sum(frozen) as frozen,
        sum(available) as available,
        sum(case when is_expired then 0 else available end) as sellable,
        sum(case when is_expired then on_hand else 0 end) as expired_quantity,
        sum(stock_value) as stock_value,
        count(*) filter (where on_hand > 0) as batches_in_stock,
        min(received_date) filter (where on_hand > 0) as oldest_received_date,
        sum(on_hand * {{ dbt.datediff("received_date", "as_of", "day") }}) filter (where on_hand > 0) as unit_age_days
    from batches
    group by merchant_id, product_id, warehouse_id, as_of
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
    select product_id, sku_code, sku_name
    from {{ ref('stg_postgres__products') }}
)

select
    positions.merchant_id,
    merchants.merchant_code,
    positions.product_id,
    products.sku_code,
    products.sku_name,
    positions.warehouse_id,
    warehouses.warehouse_code,
    positions.as_of,
    cast(positions.on_hand as integer) as on_hand,
    cast(positions.reserved as integer) as reserved,
    cast(positions.frozen as integer) as frozen,
    cast(positions.available as integer) as available,
    cast(positions.sellable as integer) as sellable,
    cast(positions.expired_quantity as integer) as expired_quantity,
    cast(positions.stock_value as decimal(18, 2)) as stock_value,
    cast(positions.batches_in_stock as integer) as batches_in_stock,
    positions.oldest_received_date,
    cast({{ dbt.datediff("positions.oldest_received_date", "positions.as_of", "day") }} as integer) as oldest_batch_age_days,
    cast(positions.unit_age_days as double) / nullif(positions.on_hand, 0) as average_age_days
from positions
inner join merchants on merchants.merchant_id = positions.merchant_id
inner join warehouses on warehouses.warehouse_id = positions.warehouse_id
inner join products on products.product_id = positions.product_id
