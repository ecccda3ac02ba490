-- Low stock and stock-out days per merchant × SKU × warehouse × trailing window (var
-- turnover_windows_days) ending at as_of, from the ledger's runs, not a day grid: a day
-- counts by its end-of-day sellable stock (on hand − reserved − frozen in batches not yet
-- expired). Stock-out day: none sellable; low-stock day: fewer than the product's
-- low_stock_threshold (预警库存). Days before the SKU first reached the warehouse are not
-- observed. The lost-sales signal assumes a stocked-out day would have sold like an average
-- in-stock day of the window.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

windows as (
    select merchant_id, as_of, window_days, window_start
    from {{ ref('int_inventory_windows_listed') }}
),

daily_changes as (
    select merchant_id, warehouse_id, product_id, change_date, change
    from {{ ref('int_stock_sellable_changes') }}
),

levels as (
    select
        daily_changes.merchant_id,
        daily_changes.warehouse_id,
        daily_changes.product_id,
        daily_changes.change_date as valid_from,
        coalesce(
            lead(daily_changes.change_date) over sku_days,
            merchants.as_of + 1
        ) as valid_to,
        sum(daily_changes.change) over (
            partition by daily_changes.warehouse_id, daily_changes.product_id
            order by daily_changes.change_date
            rows between unbounded preceding and current row
        ) as sellable
    from daily_changes
    inner join merchants on merchants.merchant_id = daily_changes.merchant_id
    window sku_days as (partition by daily_changes.warehouse_id, daily_changes.product_id order by daily_changes.change_date)
),

products as (
    select product_id, sku_code, sku_name, low_stock_threshold
    from {{ ref('stg_postgres__products') }}
),

-- Days of the window each level held, only those with some stock (the uncovered days of the
-- observed period had none).
stocked_days as (
    select
        levels.merchant_id,
        levels.warehouse_id,
        levels.product_id,
        windows.window_days,
        sum(
            {{ dbt.datediff("greatest(levels.valid_from, windows.window_start)", "least(levels.valid_to, windows.as_of + 1)", "day") }}
        ) filter (where levels.sellable > 0) as in_stock_days,
        sum(
            {{ dbt.datediff("greatest(levels.valid_from, windows.window_start)", "least(levels.valid_to, windows.as_of + 1)", "day") }}
        ) filter (where levels.sellable > 0 and levels.sellable >= products.low_stock_threshold) as above_threshold_days
    from levels
    inner join windows
        on windows.merchant_id = levels.merchant_id
        and levels.valid_to > windows.window_start
        and levels.valid_from <= windows.as_of
    inner join products on products.product_id = levels.product_id
    group by levels.merchant_id, levels.warehouse_id, levels.product_id, windows.window_days
),

positions as (
    select
        merchant_id,
        warehouse_id,
        product_id,
        min(first_movement_date) as first_stocked_date
    from {{ ref('int_stock_movements_as_of') }}
    group by merchant_id, warehouse_id, product_id
),

current_stock as (
    select
        warehouse_id,
        product_id,
        sum(case when is_expired then 0 else available end) as sellable
    from {{ ref('int_stock_batches_classified') }}
    group by warehouse_id, product_id
),

sold as (
    select
        lines.merchant_id,
        lines.warehouse_id,
        lines.product_id,
        windows.window_days,
        sum(lines.quantity) as units_sold
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join windows
        on windows.merchant_id = lines.merchant_id
        and lines.ordered_date >= windows.window_start
    group by lines.merchant_id, lines.warehouse_id, lines.product_id, windows.window_days
),

observed as (
    select
        positions.merchant_id,
        positions.warehouse_id,
        positions.product_id,
        windows.window_days,
        greatest(windows.window_start, positions.first_stocked_date) as observed_from,
        windows.as_of,
        {{ dbt.datediff("greatest(windows.window_start, positions.first_stocked_date)", "(windows.as_of + 1)", "day") }} as observed_days,
        coalesce(stocked_days.in_stock_days, 0) as in_stock_days,
        coalesce(stocked_days.above_threshold_days, 0) as above_threshold_days,
        coalesce(sold.units_sold, 0) as units_sold,
        coalesce(current_stock.sellable, 0) as sellable,
        products.low_stock_threshold
    from positions
    inner join windows on windows.merchant_id = positions.merchant_id
    inner join products on products.product_id = positions.product_id
    left join stocked_days
        on stocked_days.warehouse_id = positions.warehouse_id
        and stocked_days.product_id = positions.product_id
        and stocked_days.window_days = windows.window_days
    left join sold
        on sold.warehouse_id = positions.warehouse_id
        and sold.product_id = positions.product_id
        and sold.window_days = windows.window_days
    left join current_stock
        on current_stock.warehouse_id = positions.warehouse_id
        and current_stock.product_id = positions.product_id
),

counted as (
    select
        *,
        observed_days - in_stock_days as stock_out_days,
        -- A threshold of 0 or less never makes an empty day low (nothing is below it).
        case
            when low_stock_threshold > 0 then observed_days - above_threshold_days
            else 0
        end as low_stock_days
    from observed
),

warehouses as (
    select warehouse_id, warehouse_code
    from {{ ref('stg_postgres__warehouses') }}
)

select
    counted.merchant_id,
    merchants.merchant_code,
    counted.product_id,
    products.sku_code,
    products.sku_name,
    counted.warehouse_id,
    warehouses.warehouse_code,
    counted.window_days,
    counted.observed_from as observed_from_date,
    counted.as_of,
    cast(counted.observed_days as integer) as observed_days,
    cast(counted.stock_out_days as integer) as stock_out_days,
    cast(counted.low_stock_days as integer) as low_stock_days,
    cast(counted.stock_out_days as double) / counted.observed_days as stock_out_share,
    counted.low_stock_threshold,
    cast(counted.sellable as integer) as sellable,
    counted.sellable < counted.low_stock_threshold as is_low_stock,
    counted.sellable <= 0 as is_stocked_out,
    cast(counted.units_sold as integer) as units_sold,
    cast(counted.units_sold as double) * counted.stock_out_days / nullif(counted.in_stock_days, 0) as estimated_lost_units
from counted
inner join merchants on merchants.merchant_id = counted.merchant_id
inner join warehouses on warehouses.warehouse_id = counted.warehouse_id
inner join products on products.product_id = counted.product_id
