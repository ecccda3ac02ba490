-- Sales per merchant × category × business day, for every level of the category tree: a line
-- counts in its SKU's category and in each ancestor of it. Built from the order lines rather
-- than fct_daily_sales because an order with two SKUs of one category is one order of it.

with lines as (
    select
        merchant_id,
        order_id,
        product_id,
        ordered_date,
        quantity,
        revenue,
        cost
    from {{ ref('int_order_lines_enriched') }}
),

products as (
    select product_id, category_id
    from {{ ref('stg_postgres__products') }}
),

categories as (
    select category_id, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

-- The tree has three levels; the SKU's own category and up to two ancestors cover it.
category_paths as (
    select
        products.product_id,
        products.category_id as own_category_id,
        parents.category_id as parent_category_id,
        grandparents.category_id as grandparent_category_id
    from products
    left join categories as own on own.category_id = products.category_id
    left join categories as parents on parents.category_id = own.parent_category_id
    left join categories as grandparents on grandparents.category_id = parents.parent_category_id
),

-- One grouping set per level: a single pass over the lines (unnesting each line into three
-- rows was 20 times slower). In each set only that level's column is grouped, the other two
-- are NULL, so coalesce picks it; a SKU without a grandparent yields a NULL group, dropped.
category_days as (
    select
        lines.merchant_id,
        coalesce(
            category_paths.grandparent_category_id,
            category_paths.parent_category_id,
            category_paths.own_category_id
        ) as category_id,
        lines.ordered_date as sales_date,
        count(distinct lines.order_id) as orders,
        sum(lines.quantity) as quantity,
        sum(lines.revenue) as revenue,
        sum(lines.cost) as cost
    from lines
    inner join category_paths on category_paths.product_id = lines.product_id
    group by grouping sets (
        (lines.merchant_id, lines.ordered_date, category_paths.grandparent_category_id),
        (lines.merchant_id, lines.ordered_date, category_paths.parent_category_id),
        (lines.merchant_id, lines.ordered_date, category_paths.own_category_id)
    )
)

select
    merchant_id,
    category_id,
    sales_date,
    cast(orders as integer) as orders,
    cast(quantity as bigint) as quantity,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(cost as decimal(18, 2)) as cost
from category_days
where category_id is not null
