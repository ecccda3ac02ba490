-- Sellable stock as changes: per merchant × warehouse × SKU, the units that became sellable or
-- stopped being sellable at the start of each day the ledger moved or a batch expired. Each batch
-- run of int_stock_batch_intervals_derived adds its sellable units (on hand − reserved − frozen)
-- on its first day and takes them away after its last; a batch stops being sellable on its
-- expiry date, a change the ledger does not record. Summed in date order, the changes are the
-- end-of-day sellable stock, with no SKU × day grid built.

with intervals as (
    select
        merchant_id,
        warehouse_id,
        product_id,
        valid_from,
        case when expiry_date < valid_to then expiry_date else valid_to end as sellable_to,
        available
    from {{ ref('int_stock_batch_intervals_derived') }}
    where available <> 0
),

changes as (
    select merchant_id, warehouse_id, product_id, valid_from as change_date, available as change
    from intervals
    where sellable_to > valid_from
    union all
    select merchant_id, warehouse_id, product_id, sellable_to as change_date, -available as change
    from intervals
    where sellable_to > valid_from
)

select merchant_id, warehouse_id, product_id, change_date, sum(change) as change
from changes
group by merchant_id, warehouse_id, product_id, change_date
