-- The stock ledger as a step function: per warehouse × batch, one row per run of days over
-- which its end-of-day stock stayed the same, from a day the ledger moved (valid_from) to the
-- next such day or the day after as_of (valid_to, exclusive). Turnover and stock-out days
-- integrate over these runs, so no SKU × day grid is ever built. Only the longest trailing
-- window is covered: movements before it count on its first day, which opens with the batch's
-- balance (so the sort behind the runs skips the older history). Runs at zero (an emptied
-- batch) are dropped: they hold no value and no sellable unit.

{%- set longest_window = inventory_windows() | max %}

with merchants as (
    select merchant_id, as_of, as_of - {{ longest_window }} + 1 as window_start
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

daily_changes as (
    select
        movements.merchant_id,
        movements.warehouse_id,
        movements.batch_id,
        movements.product_id,
        merchants.as_of,
        greatest(movements.occurred_date, merchants.window_start) as change_date,
        sum(movements.on_hand_delta) as on_hand_change,
        sum(movements.reserved_delta) as reserved_change,
        sum(movements.frozen_delta) as frozen_change
    from {{ ref('stg_postgres__stock_movements') }} as movements
    inner join merchants on merchants.merchant_id = movements.merchant_id
    where movements.occurred_date <= merchants.as_of
    group by movements.merchant_id, movements.warehouse_id, movements.batch_id, movements.product_id,
        merchants.as_of, greatest(movements.occurred_date, merchants.window_start)
),

levels as (
    select
        merchant_id,
        warehouse_id,
        batch_id,
        product_id,
        as_of,
        change_date as valid_from,
        coalesce(lead(change_date) over batch_days, as_of + 1) as valid_to,
        sum(on_hand_change) over running as on_hand,
        sum(reserved_change) over running as reserved,
        sum(frozen_change) over running as frozen
    from daily_changes
    window
        batch_days as (partition by warehouse_id, batch_id order by change_date),
        running as (partition by warehouse_id, batch_id order by change_date rows between unbounded preceding and current row)
),

batches as (
    select batch_id, received_date, expiry_date, unit_cost
    from {{ ref('stg_postgres__batches') }}
)

select
    levels.merchant_id,
    levels.warehouse_id,
    levels.batch_id,
    levels.product_id,
    levels.as_of,
    levels.valid_from,
    levels.valid_to,
    cast(levels.on_hand as integer) as on_hand,
    cast(levels.reserved as integer) as reserved,
    cast(levels.frozen as integer) as frozen,
    cast(levels.on_hand - levels.reserved - levels.frozen as integer) as available,
    batches.unit_cost,
    batches.received_date,
    batches.expiry_date
from levels
inner join batches on batches.batch_id = levels.batch_id
where (levels.on_hand <> 0 or levels.reserved <> 0 or levels.frozen <> 0)
