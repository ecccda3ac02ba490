-- Turnover per merchant × trailing window: all its SKUs' COGS over their summed average
-- inventory (int_inventory_turnover_rolled_up), with the same edge cases as fct_inventory_turnover.

with turnover as (
    select * from {{ ref('int_inventory_turnover_rolled_up') }}
    where category_level = 0
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
)

select
    turnover.merchant_id,
    merchants.merchant_code,
    turnover.window_days,
    turnover.window_start as window_start_date,
    turnover.as_of,
    cast(turnover.skus as integer) as skus,
    cast(turnover.low_turnover_skus as integer) as low_turnover_skus,
    cast(turnover.units_sold as integer) as units_sold,
    cast(turnover.gross_cogs as decimal(18, 2)) as gross_cogs,
    cast(turnover.returned_cost as decimal(18, 2)) as returned_cost,
    cast(turnover.cogs as decimal(18, 2)) as cogs,
    cast(turnover.average_inventory_value as decimal(18, 2)) as average_inventory_value,
    turnover.turnover,
    turnover.turnover_days
from turnover
inner join merchants on merchants.merchant_id = turnover.merchant_id
