-- Purchase habits per merchant × customer up to as_of: the level-1 category the customer spends
-- most on (SKU lines only: amount-only history has no category) and the weekday it orders on
-- most (every order). Ties go to the first category name and the earliest weekday, so a rerun
-- never flips them.

with lines as (
    select merchant_id, customer_id, product_id, revenue
    from {{ ref('int_order_lines_enriched') }}
),

products as (
    select product_id, category_l1
    from {{ ref('dim_products') }}
),

category_amounts as (
    select
        lines.merchant_id,
        lines.customer_id,
        products.category_l1,
        sum(lines.revenue) as amount
    from lines
    inner join products on products.product_id = lines.product_id
    group by lines.merchant_id, lines.customer_id, products.category_l1
),

main_categories as (
    select merchant_id, customer_id, category_l1 as main_category_l1
    from (
        select
            merchant_id,
            customer_id,
            category_l1,
            row_number() over (
                partition by merchant_id, customer_id
                order by amount desc, category_l1 nulls last
            ) as amount_rank
        from category_amounts
    ) as ranked
    where amount_rank = 1
),

weekday_orders as (
    select
        merchant_id,
        customer_id,
        {{ iso_weekday('ordered_date') }} as weekday,
        count(*) as orders
    from {{ ref('int_customer_orders_unioned') }}
    group by merchant_id, customer_id, {{ iso_weekday('ordered_date') }}
),

preferred_weekdays as (
    select merchant_id, customer_id, weekday as preferred_weekday
    from (
        select
            merchant_id,
            customer_id,
            weekday,
            row_number() over (partition by merchant_id, customer_id order by orders desc, weekday) as orders_rank
        from weekday_orders
    ) as ranked
    where orders_rank = 1
)

select
    preferred_weekdays.merchant_id,
    preferred_weekdays.customer_id,
    main_categories.main_category_l1,
    cast(preferred_weekdays.preferred_weekday as integer) as preferred_weekday
from preferred_weekdays
left join main_categories
    on main_categories.merchant_id = preferred_weekdays.merchant_id
    and main_categories.customer_id = preferred_weekdays.customer_id
