-- Turnover per merchant × category (each of the three levels) × trailing window: the COGS and
-- average inventory of the category's SKUs summed, then divided (int_inventory_turnover_rolled_up),
-- with the same edge cases as fct_inventory_turnover.

with turnover as (
    select * from {{ ref('int_inventory_turnover_rolled_up') }}
    where category_level > 0
),

categories as (
    select category_id, category_code, category_name, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
)

select
    turnover.merchant_id,
    merchants.merchant_code,
    turnover.category_level,
    turnover.category_id,
    categories.category_code,
    categories.category_name,
    parents.category_code as parent_category_code,
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
    turnover.turnover_days,
    turnover.median_sku_turnover
from turnover
inner join merchants on merchants.merchant_id = turnover.merchant_id
inner join categories on categories.category_id = turnover.category_id
left join categories as parents on parents.category_id = categories.parent_category_id
