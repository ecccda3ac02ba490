-- Turnover per merchant × SKU × trailing window (var turnover_windows_days) ending at as_of:
--   cogs              = cost of the lines sold in the window (order date, allocated batch cost)
--                       − cost of the units customers returned into stock in the window (the
--                       ledger's return movements, at their batch's cost, by return date);
--   average inventory = ∫ end-of-day stock value over the window's days ÷ window days, from
--                       the ledger's runs (each batch at its own unit cost), expired stock
--                       included until written off, as its capital stays tied up;
--   turnover          = cogs ÷ average inventory, NULL when average inventory is 0;
--   turnover days     = window days ÷ turnover, NULL when turnover is 0 or NULL.
-- Each SKU is compared with the median turnover of its leaf category: the merchant's own SKUs
-- when at least var turnover_median_min_skus of them have a turnover, else the category's
-- SKUs across the network; below var low_turnover_share_of_category_median × median is low,
-- and so is stock that sold nothing in the window (turnover 0).

{%- set low_share = var("low_turnover_share_of_category_median") | float %}
{%- set min_skus = var("turnover_median_min_skus") | int %}

with windows as (
    select merchant_id, as_of, window_days, window_start
    from {{ ref('int_inventory_windows_listed') }}
),

-- A run's days inside the window: it ends no later than as_of + 1, so only its start is clipped.
inventory as (
    select
        intervals.merchant_id,
        intervals.product_id,
        windows.window_days,
        sum(
            -- Widened first: DuckDB multiplies within DECIMAL(18), which one absurd batch overflowed.
            cast(intervals.on_hand as decimal(38, 0)) * intervals.unit_cost
            * {{ dbt.datediff("greatest(intervals.valid_from, windows.window_start)", "intervals.valid_to", "day") }}
        ) as value_days
    from {{ ref('int_stock_batch_intervals_derived') }} as intervals
    inner join windows
        on windows.merchant_id = intervals.merchant_id
        and intervals.valid_to > windows.window_start
    group by intervals.merchant_id, intervals.product_id, windows.window_days
),

sales as (
    select
        lines.merchant_id,
        lines.product_id,
        windows.window_days,
        sum(lines.quantity) as units_sold,
        sum(lines.cost) as gross_cogs
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join windows
        on windows.merchant_id = lines.merchant_id
        and lines.ordered_date >= windows.window_start
    group by lines.merchant_id, lines.product_id, windows.window_days
),

returns as (
    select
        movements.merchant_id,
        movements.product_id,
        windows.window_days,
        sum(movements.on_hand_delta) as units_returned,
        sum(movements.on_hand_delta * batches.unit_cost) as returned_cost
    from {{ ref('stg_postgres__stock_movements') }} as movements
    inner join {{ ref('stg_postgres__batches') }} as batches on batches.batch_id = movements.batch_id
    inner join windows
        on windows.merchant_id = movements.merchant_id
        and movements.occurred_date between windows.window_start and windows.as_of
    where movements.movement_type = 'return'
    group by movements.merchant_id, movements.product_id, windows.window_days
),

keys as (
    select merchant_id, product_id, window_days from inventory
    union
    select merchant_id, product_id, window_days from sales
    union
    select merchant_id, product_id, window_days from returns
),

products as (
    select product_id, category_id
    from {{ ref('stg_postgres__products') }}
),

measured as (
    select
        keys.merchant_id,
        keys.product_id,
        products.category_id,
        keys.window_days,
        windows.window_start,
        windows.as_of,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(returns.units_returned, 0) as units_returned,
        coalesce(sales.gross_cogs, 0) as gross_cogs,
        coalesce(returns.returned_cost, 0) as returned_cost,
        coalesce(sales.gross_cogs, 0) - coalesce(returns.returned_cost, 0) as cogs,
        cast(coalesce(inventory.value_days, 0) as double) / keys.window_days as average_inventory_value
    from keys
    inner join windows
        on windows.merchant_id = keys.merchant_id
        and windows.window_days = keys.window_days
    inner join products on products.product_id = keys.product_id
    left join inventory
        on inventory.merchant_id = keys.merchant_id
        and inventory.product_id = keys.product_id
        and inventory.window_days = keys.window_days
    left join sales
        on sales.merchant_id = keys.merchant_id
        and sales.product_id = keys.product_id
        and sales.window_days = keys.window_days
    left join returns
        on returns.merchant_id = keys.merchant_id
        and returns.product_id = keys.product_id
        and returns.window_days = keys.window_days
),

turnover as (
    select
        *,
        {{ inventory_turnover('cogs', 'average_inventory_value') }} as turnover
    from measured
),

merchant_medians as (
    select
        merchant_id,
        category_id,
        window_days,
        count(turnover) as skus,
        median(turnover) as median_turnover
    from turnover
    group by merchant_id, category_id, window_days
),

network_medians as (
    select
        category_id,
        window_days,
        count(turnover) as skus,
        median(turnover) as median_turnover
    from turnover
    group by category_id, window_days
),

compared as (
    select
        turnover.*,
        case when merchant_medians.skus >= {{ min_skus }} then 'merchant' when network_medians.skus > 0 then 'network' end
            as category_median_scope,
        case when merchant_medians.skus >= {{ min_skus }} then merchant_medians.skus else network_medians.skus end
            as category_median_skus,
        case
            when merchant_medians.skus >= {{ min_skus }} then merchant_medians.median_turnover
            else network_medians.median_turnover
        end as category_median_turnover
    from turnover
    left join merchant_medians
        on merchant_medians.merchant_id = turnover.merchant_id
        and merchant_medians.category_id is not distinct from turnover.category_id
        and merchant_medians.window_days = turnover.window_days
    left join network_medians
        on network_medians.category_id is not distinct from turnover.category_id
        and network_medians.window_days = turnover.window_days
)

select
    merchant_id,
    product_id,
    category_id,
    window_days,
    window_start,
    as_of,
    cast(units_sold as integer) as units_sold,
    cast(units_returned as integer) as units_returned,
    gross_cogs,
    returned_cost,
    cogs,
    average_inventory_value,
    turnover,
    cast(window_days as double) / nullif(turnover, 0) as turnover_days,
    category_median_scope,
    cast(category_median_skus as integer) as category_median_skus,
    category_median_turnover,
    -- Stock that sold nothing is low even where the whole category is idle (a median of 0).
    coalesce(turnover = 0 or turnover < {{ low_share }} * category_median_turnover, false) as is_low_turnover
from compared
