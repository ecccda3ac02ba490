-- 库存周转率 per merchant × SKU × trailing window (var turnover_windows_days) ending at as_of,
-- with the median turnover of the SKU's leaf category and advice when it turns over slowly.
-- The rules (COGS net of returns, time-weighted average inventory, edge cases, which median)
-- live in int_inventory_turnover_windowed; this adds the codes and names users know.

{%- set low_share = var("low_turnover_share_of_category_median") | float %}

with turnover as (
    select * from {{ ref('int_inventory_turnover_windowed') }}
),

products as (
    select product_id, merchant_code, sku_code, sku_name, category_l1, category_l2, category_l3
    from {{ ref('dim_products') }}
),

categories as (
    select category_id, category_code
    from {{ ref('stg_postgres__categories') }}
)

select
    turnover.merchant_id,
    products.merchant_code,
    turnover.product_id,
    products.sku_code,
    products.sku_name,
    categories.category_code,
    products.category_l3 as category_name,
    products.category_l1,
    products.category_l2,
    products.category_l3,
    turnover.window_days,
    turnover.window_start as window_start_date,
    turnover.as_of,
    turnover.units_sold,
    turnover.units_returned,
    cast(turnover.gross_cogs as decimal(18, 2)) as gross_cogs,
    cast(turnover.returned_cost as decimal(18, 2)) as returned_cost,
    cast(turnover.cogs as decimal(18, 2)) as cogs,
    cast(turnover.average_inventory_value as decimal(18, 2)) as average_inventory_value,
    turnover.turnover,
    turnover.turnover_days,
    turnover.category_median_scope,
    turnover.category_median_skus,
    turnover.category_median_turnover,
    turnover.is_low_turnover,
    case
        when turnover.is_low_turnover and turnover.turnover = 0 then 'promote_or_clear'
        when turnover.is_low_turnover then 'reduce_purchasing'
    end as advice_code,
    case
        when turnover.is_low_turnover and turnover.turnover = 0
            then 'Stock was held but nothing sold in the last ' || turnover.window_days
                || ' days: promote, bundle or clear it, and stop reordering until it moves.'
        when turnover.is_low_turnover
            then 'Turnover is below {{ (low_share * 100) | round(0) | int }}% of the category median over the last '
                || turnover.window_days
                || ' days: order smaller quantities more often and let the stock run down.'
    end as advice
from turnover
inner join products on products.product_id = turnover.product_id
left join categories on categories.category_id = turnover.category_id
