{{ config(meta={"dagster": {"ref": {"name": "int_stock_movements_as_of"}}}) }}

-- Where a merchant's as_of is on or after its last stock movement, the stock rebuilt from the
-- ledger must equal core.stock exactly (PostgreSQL keeps both in step with a trigger). A row
-- here means the rebuild or the ingestion lost or doubled movements.

with merchants_fully_covered as (
    select merchants.merchant_id
    from {{ ref('int_merchants_as_of') }} as merchants
    inner join (
        select merchant_id, max(occurred_date) as last_movement_date
        from {{ ref('stg_postgres__stock_movements') }}
        group by merchant_id
    ) as ledger on ledger.merchant_id = merchants.merchant_id
    where merchants.as_of >= ledger.last_movement_date
),

rebuilt as (
    select warehouse_id, batch_id, on_hand, reserved, frozen
    from {{ ref('int_stock_movements_as_of') }}
    where merchant_id in (select merchant_id from merchants_fully_covered)
),

current_stock as (
    select warehouse_id, batch_id, on_hand, reserved, frozen
    from {{ ref('stg_postgres__stock') }}
    where merchant_id in (select merchant_id from merchants_fully_covered)
)

select
    coalesce(rebuilt.warehouse_id, current_stock.warehouse_id) as warehouse_id,
    coalesce(rebuilt.batch_id, current_stock.batch_id) as batch_id,
    rebuilt.on_hand as rebuilt_on_hand,
    current_stock.on_hand as current_on_hand,
    rebuilt.reserved as rebuilt_reserved,
    current_stock.reserved as current_reserved,
    rebuilt.frozen as rebuilt_frozen,
    current_stock.frozen as current_frozen
from rebuilt
full outer join current_stock
    on current_stock.warehouse_id = rebuilt.warehouse_id
    and current_stock.batch_id = rebuilt.batch_id
where rebuilt.on_hand is distinct from current_stock.on_hand
   or rebuilt.reserved is distinct from current_stock.reserved
   or rebuilt.frozen is distinct from current_stock.frozen
