{{ config(meta={"dagster": {"ref": {"name": "fct_stock_positions"}}}) }}

-- Inventory value = batches × cost. Per merchant × SKU × warehouse, the positions' on_hand and
-- stock_value must equal Σ on_hand and Σ on_hand × unit_cost over the batches rebuilt from the
-- ledger; and where the merchant's as_of is on or after its last ledger day, also over
-- core.stock × the batch's unit cost as ingested. A row here is a position that disagrees.

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

positions as (
    select merchant_id, product_id, warehouse_id, on_hand, stock_value
    from {{ ref('fct_stock_positions') }}
),

batches as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        sum(on_hand) as on_hand,
        sum(on_hand * unit_cost) as stock_value
    from {{ ref('int_stock_batches_classified') }}
    group by merchant_id, product_id, warehouse_id
),

current_stock as (
    select
        stock.merchant_id,
        stock.product_id,
        stock.warehouse_id,
        sum(stock.on_hand) as on_hand,
        sum(stock.on_hand * batches.unit_cost) as stock_value
    from {{ ref('stg_postgres__stock') }} as stock
    inner join {{ ref('stg_postgres__batches') }} as batches on batches.batch_id = stock.batch_id
    where stock.merchant_id in (select merchant_id from merchants_fully_covered)
    group by stock.merchant_id, stock.product_id, stock.warehouse_id
),

against_batches as (
    select
        'batches' as compared_with,
        coalesce(positions.merchant_id, batches.merchant_id) as merchant_id,
        coalesce(positions.product_id, batches.product_id) as product_id,
        coalesce(positions.warehouse_id, batches.warehouse_id) as warehouse_id,
        positions.on_hand as position_on_hand,
        batches.on_hand as other_on_hand,
        positions.stock_value as position_value,
        batches.stock_value as other_value
    from positions
    full outer join batches
        on batches.merchant_id = positions.merchant_id
        and batches.product_id = positions.product_id
        and batches.warehouse_id = positions.warehouse_id
),

-- core.stock keeps only rows that ever held stock; a position at zero may have none there.
against_current_stock as (
    select
        'core.stock' as compared_with,
        coalesce(positions.merchant_id, current_stock.merchant_id) as merchant_id,
        coalesce(positions.product_id, current_stock.product_id) as product_id,
        coalesce(positions.warehouse_id, current_stock.warehouse_id) as warehouse_id,
        positions.on_hand as position_on_hand,
        coalesce(current_stock.on_hand, 0) as other_on_hand,
        positions.stock_value as position_value,
        coalesce(current_stock.stock_value, 0) as other_value
    from (
        select * from positions
        where merchant_id in (select merchant_id from merchants_fully_covered)
    ) as positions
    full outer join current_stock
        on current_stock.merchant_id = positions.merchant_id
        and current_stock.product_id = positions.product_id
        and current_stock.warehouse_id = positions.warehouse_id
)

select * from against_batches
where position_on_hand is distinct from other_on_hand
   or position_value is distinct from other_value
union all
select * from against_current_stock
where position_on_hand is distinct from other_on_hand
   or position_value is distinct from other_value
