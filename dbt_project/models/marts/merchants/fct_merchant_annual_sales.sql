-- Sales per merchant × calendar year (business dates, Asia/Shanghai) up to as_of, every year from
-- the merchant's first sale to as_of's year (a year without sales shows 0). Amount-only history
-- counts. The year of as_of is partial, so growth compares each year with the same stretch of
-- the year before (1 January to the same day), never a year-to-date with a whole year.

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

orders as (
    select merchant_id, customer_id, ordered_date, order_amount, is_amount_only
    from {{ ref('int_customer_orders_unioned') }}
),

first_sales as (
    select merchant_id, min(ordered_date) as first_sale_date
    from orders
    group by merchant_id
),

merchant_years as (
    select
        merchants.merchant_id,
        merchants.merchant_code,
        merchants.as_of,
        first_sales.first_sale_date,
        {{ unnest_integer_range('year(first_sales.first_sale_date)', 'year(merchants.as_of)') }} as sales_year
    from merchants
    inner join first_sales on first_sales.merchant_id = merchants.merchant_id
),

years as (
    select
        merchant_id,
        merchant_code,
        as_of,
        first_sale_date,
        cast(sales_year as integer) as sales_year,
        make_date(cast(sales_year as integer), 1, 1) as period_start,
        least(make_date(cast(sales_year as integer), 12, 31), as_of) as period_end
    from merchant_years
),

periods as (
    select
        *,
        period_end = make_date(sales_year, 12, 31) as is_complete_year,
        cast(period_start - interval 1 year as date) as comparable_start,
        cast(period_end - interval 1 year as date) as comparable_end
    from years
),

current_sales as (
    select
        periods.merchant_id,
        periods.sales_year,
        count(*) as orders,
        count(distinct orders.customer_id) as customers,
        sum(orders.order_amount) as sales,
        sum(case when orders.is_amount_only then orders.order_amount else 0 end) as amount_only_sales
    from periods
    inner join orders
        on orders.merchant_id = periods.merchant_id
        and orders.ordered_date between periods.period_start and periods.period_end
    group by periods.merchant_id, periods.sales_year
),

comparable_sales as (
    select
        periods.merchant_id,
        periods.sales_year,
        sum(orders.order_amount) as sales
    from periods
    inner join orders
        on orders.merchant_id = periods.merchant_id
        and orders.ordered_date between periods.comparable_start and periods.comparable_end
    group by periods.merchant_id, periods.sales_year
)

select
    periods.merchant_id,
    periods.merchant_code,
    periods.sales_year,
    periods.period_start,
    periods.period_end,
    periods.is_complete_year,
    periods.as_of,
    cast(coalesce(current_sales.orders, 0) as integer) as orders,
    cast(coalesce(current_sales.customers, 0) as integer) as customers,
    cast(coalesce(current_sales.sales, 0) as decimal(18, 2)) as sales,
    cast(coalesce(current_sales.amount_only_sales, 0) as decimal(18, 2)) as amount_only_sales,
    -- The previous stretch counts only when the merchant's history covers all of it: a first
    -- year that began mid-year would make any growth look huge.
    case
        when periods.first_sale_date <= periods.comparable_start
            then cast(coalesce(comparable_sales.sales, 0) as decimal(18, 2))
    end as comparable_previous_sales,
    case
        when periods.first_sale_date <= periods.comparable_start
            then cast(coalesce(current_sales.sales, 0) as double) / nullif(comparable_sales.sales, 0) - 1
    end as growth_rate
from periods
left join current_sales
    on current_sales.merchant_id = periods.merchant_id
    and current_sales.sales_year = periods.sales_year
left join comparable_sales
    on comparable_sales.merchant_id = periods.merchant_id
    and comparable_sales.sales_year = periods.sales_year
