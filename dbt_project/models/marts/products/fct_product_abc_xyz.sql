-- ABC × XYZ per merchant × SKU at as_of, over var classification_history_days trailing as_of.
-- ABC by revenue: SKUs in descending revenue order take A while the SKUs ranked above them hold
-- less than the first cumulative share (so the SKU crossing 80% is still A, and the best seller
-- always is), B below the second share, C the rest. SKUs with equal revenue form one group that
-- takes the class of its first member, so a tie never splits across a boundary. No revenue → C.
-- XYZ by the coefficient of variation (population standard deviation ÷ mean) of weekly units
-- over the full weeks since the SKU's launch, weeks without sales counting 0; no units → Z.
{%- set abc_shares = var("abc_cumulative_shares") %}
{%- set xyz_limits = var("xyz_cv_limits") %}
{%- set history_days = var("classification_history_days") | int %}
{%- set full_weeks = history_days // 7 %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

weekly as (
    select merchant_id, product_id, weeks_before_as_of, week_start_date, is_full_week, quantity, revenue
    from {{ ref('int_product_sales_weekly_aggregated') }}
),

-- Active SKUs, plus inactive ones that still sold in the window so the shares add up to the
-- merchant's whole SKU revenue.
sold as (
    select merchant_id, product_id, sum(revenue) as revenue, sum(quantity) as quantity
    from weekly
    group by merchant_id, product_id
),

products as (
    select
        products.merchant_id,
        products.product_id,
        products.sku_code,
        products.sku_name,
        products.category_l1,
        products.category_l2,
        products.category_l3
    from {{ ref('dim_products') }} as products
    left join sold
        on sold.merchant_id = products.merchant_id
        and sold.product_id = products.product_id
    where products.is_active or sold.product_id is not null
),

launches as (
    select merchant_id, product_id, launched_date
    from {{ ref('int_product_launches_dated') }}
),

-- Full weeks that started on or after the launch day; a SKU never stocked nor sold has none.
observed as (
    select
        products.merchant_id,
        products.product_id,
        merchants.as_of,
        cast(
            coalesce(
                least({{ full_weeks }}, greatest(0, {{ integer_divide(dbt.datediff("launches.launched_date", "merchants.as_of", "day") ~ " + 1", 7) }})),
                0
            ) as integer
        ) as demand_weeks
    from products
    inner join merchants on merchants.merchant_id = products.merchant_id
    left join launches
        on launches.merchant_id = products.merchant_id
        and launches.product_id = products.product_id
),

observed_weeks as (
    select weekly.merchant_id, weekly.product_id, weekly.quantity
    from weekly
    inner join observed
        on observed.merchant_id = weekly.merchant_id
        and observed.product_id = weekly.product_id
    where weekly.is_full_week and weekly.weeks_before_as_of < observed.demand_weeks
),

demand_mean as (
    select
        observed.merchant_id,
        observed.product_id,
        observed.demand_weeks,
        count(observed_weeks.quantity) as weeks_with_sales,
        coalesce(sum(observed_weeks.quantity), 0) / nullif(observed.demand_weeks, 0) as weekly_mean
    from observed
    left join observed_weeks
        on observed_weeks.merchant_id = observed.merchant_id
        and observed_weeks.product_id = observed.product_id
    group by observed.merchant_id, observed.product_id, observed.demand_weeks
),

-- Two passes (mean first) keep a constant demand at exactly zero deviation; the weeks without
-- sales each add mean².
demand as (
    select
        demand_mean.merchant_id,
        demand_mean.product_id,
        demand_mean.demand_weeks,
        demand_mean.weeks_with_sales,
        demand_mean.weekly_mean,
        sqrt(
            (
                coalesce(sum(power(observed_weeks.quantity - demand_mean.weekly_mean, 2)), 0)
                + (demand_mean.demand_weeks - demand_mean.weeks_with_sales) * power(demand_mean.weekly_mean, 2)
            ) / nullif(demand_mean.demand_weeks, 0)
        ) as weekly_stddev
    from demand_mean
    left join observed_weeks
        on observed_weeks.merchant_id = demand_mean.merchant_id
        and observed_weeks.product_id = demand_mean.product_id
    group by
        demand_mean.merchant_id,
        demand_mean.product_id,
        demand_mean.demand_weeks,
        demand_mean.weeks_with_sales,
        demand_mean.weekly_mean
),

revenue as (
    select
        products.merchant_id,
        products.product_id,
        coalesce(sold.revenue, 0) as revenue,
        coalesce(sold.quantity, 0) as quantity
    from products
    left join sold
        on sold.merchant_id = products.merchant_id
        and sold.product_id = products.product_id
),

ranked as (
    select
        merchant_id,
        product_id,
        revenue,
        quantity,
        sum(revenue) over (partition by merchant_id) as merchant_revenue,
        -- RANGE takes the whole group of equal revenue, so ties share one cumulative value.
        sum(revenue) over (
            partition by merchant_id order by revenue desc
            range between unbounded preceding and current row
        ) as cumulative_revenue,
        sum(revenue) over (partition by merchant_id, revenue) as tie_group_revenue,
        rank() over (partition by merchant_id order by revenue desc) as revenue_rank
    from revenue
),

classified as (
    select
        ranked.merchant_id,
        ranked.product_id,
        ranked.revenue,
        ranked.quantity,
        ranked.revenue_rank,
        cast(ranked.revenue as double) / nullif(ranked.merchant_revenue, 0) as revenue_share,
        cast(ranked.cumulative_revenue as double) / nullif(ranked.merchant_revenue, 0) as cumulative_revenue_share,
        case
            when ranked.revenue <= 0 or ranked.merchant_revenue <= 0 then 'C'
            when (ranked.cumulative_revenue - ranked.tie_group_revenue) / ranked.merchant_revenue
                < {{ abc_shares[0] }} then 'A'
            when (ranked.cumulative_revenue - ranked.tie_group_revenue) / ranked.merchant_revenue
                < {{ abc_shares[1] }} then 'B'
            else 'C'
        end as abc_class,
        demand.demand_weeks,
        demand.weeks_with_sales,
        demand.weekly_mean,
        demand.weekly_stddev,
        demand.weekly_stddev / nullif(demand.weekly_mean, 0) as demand_cv
    from ranked
    inner join demand
        on demand.merchant_id = ranked.merchant_id
        and demand.product_id = ranked.product_id
),

lettered as (
    select
        *,
        case
            when demand_cv is null then 'Z'
            when demand_cv <= {{ xyz_limits[0] }} then 'X'
            when demand_cv <= {{ xyz_limits[1] }} then 'Y'
            else 'Z'
        end as xyz_class
    from classified
)

select
    lettered.merchant_id,
    merchants.merchant_code,
    lettered.product_id,
    products.sku_code,
    products.sku_name,
    products.category_l1,
    products.category_l2,
    products.category_l3,
    merchants.as_of,
    cast(merchants.as_of - {{ history_days - 1 }} as date) as window_start_date,
    cast(lettered.quantity as bigint) as quantity,
    cast(lettered.revenue as decimal(18, 2)) as revenue,
    cast(lettered.revenue_share as double) as revenue_share,
    cast(lettered.cumulative_revenue_share as double) as cumulative_revenue_share,
    cast(lettered.revenue_rank as integer) as revenue_rank,
    lettered.abc_class,
    cast(lettered.demand_weeks as integer) as demand_weeks,
    cast(lettered.weeks_with_sales as integer) as weeks_with_sales,
    cast(lettered.weekly_mean as double) as weekly_demand_mean,
    cast(lettered.weekly_stddev as double) as weekly_demand_stddev,
    cast(lettered.demand_cv as double) as demand_cv,
    lettered.xyz_class,
    lettered.abc_class || lettered.xyz_class as abc_xyz_class
from lettered
inner join merchants on merchants.merchant_id = lettered.merchant_id
inner join products
    on products.merchant_id = lettered.merchant_id
    and products.product_id = lettered.product_id
