-- Each warehouse × batch at as_of with its value and expiry class: the near-expiry levels of
-- var near_expiry_days, or expired (its own class, no level). Undated batches get neither.
-- Available = on hand less units reserved for orders and units frozen (held back from sale).

with stock as (
    select
        merchant_id,
        warehouse_id,
        batch_id,
        product_id,
        as_of,
        on_hand,
        reserved,
        frozen
    from {{ ref('int_stock_movements_as_of') }}
),

batches as (
    select
        batch_id,
        lot_code,
        received_date,
        expiry_date,
        unit_cost
    from {{ ref('stg_postgres__batches') }}
),

dated as (
    select
        stock.merchant_id,
        stock.warehouse_id,
        stock.batch_id,
        stock.product_id,
        stock.as_of,
        batches.lot_code,
        batches.received_date,
        batches.expiry_date,
        batches.unit_cost,
        stock.on_hand,
        stock.reserved,
        stock.frozen,
        cast({{ dbt.datediff("stock.as_of", "batches.expiry_date", "day") }} as integer) as days_to_expiry
    from stock
    inner join batches on batches.batch_id = stock.batch_id
)

select
    merchant_id,
    warehouse_id,
    batch_id,
    product_id,
    as_of,
    lot_code,
    received_date,
    expiry_date,
    unit_cost,
    on_hand,
    reserved,
    frozen,
    on_hand - reserved - frozen as available,
    -- Widened first: DuckDB multiplies within DECIMAL(18), which one absurd batch overflowed for every merchant.
    cast(cast(on_hand as decimal(38, 0)) * unit_cost as decimal(18, 2)) as stock_value,
    days_to_expiry,
    -- The source system never sells a batch on or after its expiry date, so a batch expiring
    -- on as_of itself is already expired.
    coalesce(days_to_expiry <= 0, false) as is_expired,
    cast({{ near_expiry_level('days_to_expiry') }} as integer) as near_expiry_level
from dated
