-- Sales per merchant × category × period (day, ISO week from Monday, month, quarter) at each
-- level of the three-level category tree, periods with sales only. A SKU's sales count in its
-- leaf (level 3) and in the leaf's level-2 and level-1 ancestors, so each level on its own
-- adds up to the merchant's SKU revenue. Amount-only history has no SKU and is left out.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

daily as (
    select
        merchant_id,
        category_id,
        sales_date,
        orders,
        quantity,
        revenue,
        cost
    from {{ ref('int_category_daily_sales_aggregated') }}
),

categories as (
    select category_id, category_code, category_name, category_level, parent_category_id
    from {{ ref('stg_postgres__categories') }}
),

-- An order falls on one day, so daily distinct orders add up to the period's.
period_sales as (
    select
        daily.merchant_id,
        daily.category_id,
        periods.period,
        {{ sales_period_start('periods.period', 'daily.sales_date') }} as period_start,
        sum(daily.orders) as orders,
        sum(daily.quantity) as quantity,
        sum(daily.revenue) as revenue,
        sum(daily.cost) as cost
    from daily
    cross join {{ sales_periods() }}
    group by all
)

select
    period_sales.merchant_id,
    merchants.merchant_code,
    categories.category_level,
    period_sales.category_id,
    categories.category_code,
    categories.category_name,
    parents.category_code as parent_category_code,
    {{ sales_period_columns('period_sales.period', 'period_sales.period_start', 'merchants.as_of') }},
    cast(period_sales.orders as integer) as orders,
    cast(period_sales.quantity as bigint) as quantity,
    cast(period_sales.revenue as decimal(18, 2)) as revenue,
    cast(period_sales.cost as decimal(18, 2)) as cost,
    cast(period_sales.revenue - period_sales.cost as decimal(18, 2)) as gross_profit,
    cast(
        cast(period_sales.revenue as double) / nullif(sum(period_sales.revenue) over (
            partition by period_sales.merchant_id, categories.category_level, period_sales.period, period_sales.period_start
        ), 0) as double
    ) as revenue_share
from period_sales
inner join merchants on merchants.merchant_id = period_sales.merchant_id
inner join categories on categories.category_id = period_sales.category_id
left join categories as parents on parents.category_id = categories.parent_category_id
