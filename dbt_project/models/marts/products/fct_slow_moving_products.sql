-- 滞销品: one row per merchant × SKU that is slow-moving at as_of (stock on hand in some
-- warehouse, no sale anywhere for more than var slow_moving_days), with the capital it ties up
-- across warehouses. Built on fct_inventory_flags so the two never disagree on the rule.

with flags as (
    select
        merchant_id,
        merchant_code,
        product_id,
        sku_code,
        as_of,
        first_received_date,
        last_sale_date,
        days_since_last_sale,
        on_hand,
        stock_value,
        slow_moving_value,
        is_slow_moving
    from {{ ref('fct_inventory_flags') }}
),

merchant_stock as (
    select merchant_id, sum(stock_value) as merchant_stock_value
    from flags
    group by merchant_id
),

slow as (
    select
        merchant_id,
        merchant_code,
        product_id,
        sku_code,
        as_of,
        min(first_received_date) as first_received_date,
        max(last_sale_date) as last_sale_date,
        max(days_since_last_sale) as days_since_last_sale,
        count(*) as warehouses,
        sum(on_hand) as on_hand,
        sum(slow_moving_value) as slow_moving_value
    from flags
    where is_slow_moving
    group by merchant_id, merchant_code, product_id, sku_code, as_of
),

products as (
    select product_id, sku_name, category_l1, category_l2, category_l3
    from {{ ref('dim_products') }}
)

select
    slow.merchant_id,
    slow.merchant_code,
    slow.product_id,
    slow.sku_code,
    products.sku_name,
    products.category_l1,
    products.category_l2,
    products.category_l3,
    slow.as_of,
    slow.first_received_date,
    slow.last_sale_date,
    slow.days_since_last_sale,
    cast({{ dbt.datediff("coalesce(slow.last_sale_date, slow.first_received_date)", "slow.as_of", "day") }} as integer)
        as days_without_sale,
    cast(slow.warehouses as integer) as warehouses,
    cast(slow.on_hand as integer) as on_hand,
    cast(slow.slow_moving_value as decimal(18, 2)) as slow_moving_value,
    cast(slow.slow_moving_value as double) / nullif(merchant_stock.merchant_stock_value, 0)
        as share_of_stock_value,
    cast(
        row_number() over (
            partition by slow.merchant_id order by slow.slow_moving_value desc, slow.sku_code
        ) as integer
    ) as value_rank
from slow
inner join merchant_stock on merchant_stock.merchant_id = slow.merchant_id
left join products on products.product_id = slow.product_id
order by slow.merchant_code, slow.slow_moving_value desc, slow.sku_code
