-- Revenue, cost of goods sold and gross profit per merchant × month × category, at every level
-- of the category tree: a row for each leaf (level 3), each level-2 and each level-1 category
-- the month's lines fall under, so each level adds up to the same total (pick one level).
-- Revenue and cost as everywhere (int_order_lines_enriched). Imported amount-only history has no
-- category and no cost: it is left out here and shown in fct_profit_by_customer_group.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
),

categories as (
    select category_id, category_code, category_name, category_level, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

-- A product's category is normally a leaf; walking up by level also places one filed higher.
product_paths as (
    select
        products.product_id,
        case own.category_level
            when 1 then own.category_id
            when 2 then parent.category_id
            else grandparent.category_id
        end as category_l1_id,
        case own.category_level
            when 2 then own.category_id
            when 3 then parent.category_id
        end as category_l2_id,
        case when own.category_level = 3 then own.category_id end as category_l3_id
    from {{ ref('stg_postgres__products') }} as products
    inner join categories as own on own.category_id = products.category_id
    left join categories as parent on parent.category_id = own.parent_category_id
    left join categories as grandparent on grandparent.category_id = parent.parent_category_id
),

lines as (
    select
        lines.merchant_id,
        cast(date_trunc('month', lines.ordered_date) as date) as sales_month,
        lines.order_id,
        lines.revenue,
        lines.cost,
        lines.is_cost_estimated,
        product_paths.category_l1_id,
        product_paths.category_l2_id,
        product_paths.category_l3_id
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join product_paths on product_paths.product_id = lines.product_id
),

by_level as (
    select
        merchant_id,
        sales_month,
        case
            when grouping(category_l3_id) = 0 then category_l3_id
            when grouping(category_l2_id) = 0 then category_l2_id
            else category_l1_id
        end as category_id,
        count(distinct order_id) as orders,
        count(*) as order_lines,
        sum(revenue) as revenue,
        sum(cost) as cost,
        coalesce(sum(cost) filter (where is_cost_estimated), 0) as estimated_cost
    from lines
    group by grouping sets (
        (merchant_id, sales_month, category_l1_id),
        (merchant_id, sales_month, category_l1_id, category_l2_id),
        (merchant_id, sales_month, category_l1_id, category_l2_id, category_l3_id)
    )
)

select
    by_level.merchant_id,
    merchants.merchant_code,
    by_level.sales_month,
    categories.category_level,
    by_level.category_id,
    categories.category_code,
    categories.category_name,
    parents.category_code as parent_category_code,
    cast(by_level.orders as integer) as orders,
    cast(by_level.order_lines as integer) as order_lines,
    cast(by_level.revenue as decimal(18, 2)) as revenue,
    cast(by_level.cost as decimal(18, 2)) as cost,
    cast(by_level.revenue - by_level.cost as decimal(18, 2)) as gross_profit,
    cast(case when by_level.revenue <> 0 then cast(by_level.revenue - by_level.cost as double) / by_level.revenue end as double)
        as gross_margin,
    cast(by_level.estimated_cost as decimal(18, 2)) as estimated_cost,
    merchants.as_of
from by_level
-- A product filed above level 3 has no category at the deeper levels: those rows go.
inner join categories on categories.category_id = by_level.category_id
left join categories as parents on parents.category_id = categories.parent_category_id
inner join merchants on merchants.merchant_id = by_level.merchant_id
