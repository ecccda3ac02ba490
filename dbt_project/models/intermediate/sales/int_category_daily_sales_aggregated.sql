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
        list_filter(
            [products.category_id, parents.category_id, grandparents.category_id],
            category_id -> category_id is not null
        ) as category_ids
    from products
    left join categories as own on own.category_id = products.category_id
    left join categories as parents on parents.category_id = own.parent_category_id
    left join categories as grandparents on grandparents.category_id = parents.parent_category_id
),

line_categories as (
    select
        lines.merchant_id,
        lines.order_id,
        lines.ordered_date,
        lines.quantity,
        lines.revenue,
        lines.cost,
        unnest(category_paths.category_ids) as category_id
    from lines
    inner join category_paths on category_paths.product_id = lines.product_id
)

select
    merchant_id,
    category_id,
    ordered_date as sales_date,
    cast(count(distinct order_id) as integer) as orders,
    cast(sum(quantity) as bigint) as quantity,
    cast(sum(revenue) as decimal(18, 2)) as revenue,
    cast(sum(cost) as decimal(18, 2)) as cost
from line_categories
group by merchant_id, category_id, ordered_date
