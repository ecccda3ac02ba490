-- Stock per warehouse × batch at the end of the merchant's as_of day, rebuilt from the ledger
-- (core.stock holds only today's stock, which is wrong for any earlier as_of). Batches whose
-- stock has gone to zero stay, so "ever had stock" can be answered.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

movements as (
    select
        movements.merchant_id,
        movements.warehouse_id,
        movements.batch_id,
        movements.product_id,
        movements.on_hand_delta,
        movements.reserved_delta,
        movements.frozen_delta,
        movements.occurred_date,
        merchants.as_of
    from {{ ref('stg_postgres__stock_movements') }} as movements
    inner join merchants on merchants.merchant_id = movements.merchant_id
    where movements.occurred_date <= merchants.as_of
)

select
    merchant_id,
    warehouse_id,
    batch_id,
    product_id,
    as_of,
    cast(sum(on_hand_delta) as integer) as on_hand,
    cast(sum(reserved_delta) as integer) as reserved,
    cast(sum(frozen_delta) as integer) as frozen,
    min(occurred_date) as first_movement_date,
    max(occurred_date) as last_movement_date
from movements
group by merchant_id, warehouse_id, batch_id, product_id, as_of
