-- Turnover per merchant (category_level 0) and per merchant × category at each level of the
-- tree, per trailing window: the SKUs' COGS and average inventory summed, then divided, so a
-- category's turnover is its own ratio, not an average of its SKUs' ratios.

with turnover as (
    select * from {{ ref('int_inventory_turnover_windowed') }}
),

categories as (
    select category_id, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

-- Products sit in leaves; each SKU row counts once at each level of its path.
sku_paths as (
    select
        turnover.*,
        level_2.category_id as category_l2_id,
        level_1.category_id as category_l1_id
    from turnover
    left join categories as level_3 on level_3.category_id = turnover.category_id
    left join categories as level_2 on level_2.category_id = level_3.parent_category_id
    left join categories as level_1 on level_1.category_id = level_2.parent_category_id
),

by_level as (
    select 0 as category_level, cast(null as bigint) as rollup_category_id, * from sku_paths
    union all
    select 1 as category_level, category_l1_id as rollup_category_id, * from sku_paths
    union all
    select 2 as category_level, category_l2_id as rollup_category_id, * from sku_paths
    union all
    select 3 as category_level, category_id as rollup_category_id, * from sku_paths
),

aggregated as (
    select
        merchant_id,
        category_level,
        rollup_category_id as category_id,
        window_days,
        window_start,
        as_of,
        count(*) as skus,
        count(*) filter (where is_low_turnover) as low_turnover_skus,
        sum(units_sold) as units_sold,
        sum(gross_cogs) as gross_cogs,
        sum(returned_cost) as returned_cost,
        sum(cogs) as cogs,
        sum(average_inventory_value) as average_inventory_value,
        median(turnover) as median_sku_turnover
    from by_level
    where category_level = 0 or rollup_category_id is not null
    group by merchant_id, category_level, rollup_category_id, window_days, window_start, as_of
),

with_turnover as (
    select
        *,
        {{ inventory_turnover('cogs', 'average_inventory_value') }} as turnover
    from aggregated
)

select
    *,
    cast(window_days as double) / nullif(turnover, 0) as turnover_days
from with_turnover
