-- Stock alerts per merchant × SKU × warehouse that has ever held the SKU, at as_of:
-- slow-moving (滞销), near-expiry (临期) and expired, low stock (预警库存), out of stock.

{%- set slow_moving_days = var("slow_moving_days") | int %}

with batches as (
    select
        merchant_id,
        warehouse_id,
        product_id,
        as_of,
        received_date,
        expiry_date,
        on_hand,
        available,
        stock_value,
        is_expired,
        near_expiry_level
    from {{ ref('int_stock_batches_classified') }}
),

positions as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        as_of,
        sum(on_hand) as on_hand,
        -- Sellable stock: expired units can never be sold, so they do not hold off a low-stock alert.
        sum(case when is_expired then 0 else available end) as available,
        sum(stock_value) as stock_value,
        min(case when on_hand > 0 and not is_expired then expiry_date end) as nearest_expiry_date,
        -- The levels are day counts, so the worst (most urgent) level is the smallest.
        min(case when on_hand > 0 then near_expiry_level end) as near_expiry_level,
        sum(case when is_expired then on_hand else 0 end) as expired_quantity,
        sum(case when near_expiry_level is not null or is_expired then stock_value else 0 end) as value_at_risk
    from batches
    group by merchant_id, product_id, warehouse_id, as_of
),

-- Slow-moving is judged per SKU across warehouses: a sale anywhere shows the SKU still moves.
sku_first_received as (
    select merchant_id, product_id, min(received_date) as first_received_date
    from batches
    group by merchant_id, product_id
),

sku_last_sale as (
    select merchant_id, product_id, max(ordered_date) as last_sale_date
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id, product_id
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
    select product_id, sku_code, low_stock_threshold
    from {{ ref('stg_postgres__products') }}
),

flagged as (
    select
        positions.merchant_id,
        positions.product_id,
        positions.warehouse_id,
        positions.as_of,
        positions.on_hand,
        positions.available,
        positions.stock_value,
        sku_first_received.first_received_date,
        sku_last_sale.last_sale_date,
        cast({{ dbt.datediff("sku_last_sale.last_sale_date", "positions.as_of", "day") }} as integer) as days_since_last_sale,
        positions.on_hand > 0
            and {{ dbt.datediff("coalesce(sku_last_sale.last_sale_date, sku_first_received.first_received_date)", "positions.as_of", "day") }} > {{ slow_moving_days }} as is_slow_moving,
        positions.nearest_expiry_date,
        positions.near_expiry_level,
        positions.expired_quantity,
        positions.value_at_risk,
        positions.available < products.low_stock_threshold as is_low_stock,
        -- Out of stock as the stock-out days count it: nothing left to sell. Units on hand that
        -- are reserved, frozen or expired meet no new demand.
        positions.available <= 0 as is_out_of_stock
    from positions
    inner join products on products.product_id = positions.product_id
    left join sku_first_received
        on sku_first_received.merchant_id = positions.merchant_id
        and sku_first_received.product_id = positions.product_id
    left join sku_last_sale
        on sku_last_sale.merchant_id = positions.merchant_id
        and sku_last_sale.product_id = positions.product_id
)

select
    flagged.merchant_id,
    merchants.merchant_code,
    flagged.product_id,
    products.sku_code,
    flagged.warehouse_id,
    warehouses.warehouse_code,
    cast(flagged.on_hand as integer) as on_hand,
    cast(flagged.available as integer) as available,
    cast(flagged.stock_value as decimal(18, 2)) as stock_value,
    flagged.first_received_date,
    flagged.last_sale_date,
    flagged.days_since_last_sale,
    coalesce(flagged.is_slow_moving, false) as is_slow_moving,
    -- 滞销 capital tied up: what the idle stock cost.
    cast(case when flagged.is_slow_moving then flagged.stock_value else 0 end as decimal(18, 2)) as slow_moving_value,
    flagged.nearest_expiry_date,
    flagged.near_expiry_level,
    cast(flagged.expired_quantity as integer) as expired_quantity,
    cast(flagged.value_at_risk as decimal(18, 2)) as value_at_risk,
    flagged.is_low_stock,
    flagged.is_out_of_stock,
    flagged.as_of
from flagged
inner join merchants on merchants.merchant_id = flagged.merchant_id
inner join warehouses on warehouses.warehouse_id = flagged.warehouse_id
inner join products on products.product_id = flagged.product_id
