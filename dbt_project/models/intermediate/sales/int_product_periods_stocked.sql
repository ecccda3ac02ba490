-- Active SKUs with stock on hand at the end of each week, month and quarter since the
-- merchant's first sale (at as_of for the period still running): the SKUs a product ranking
-- lists even when they sold nothing, so a slow seller can have zero sales. Stock comes from
-- the ledger's change points, not a SKU × day grid.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

first_sales as (
    select merchant_id, min(ordered_date) as first_sales_date
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id
),

period_series as (
    select
        merchants.merchant_id,
        merchants.as_of,
        periods.period,
        {{ unnest_date_range(
            sales_period_start('periods.period', 'first_sales.first_sales_date'),
            'merchants.as_of',
            "case periods.period when 'month' then 1 when 'quarter' then 3 else 0 end",
            "case periods.period when 'week' then 7 else 0 end"
        ) }} as period_start
    from merchants
    inner join first_sales on first_sales.merchant_id = merchants.merchant_id
    cross join {{ sales_periods(["week", "month", "quarter"]) }}
),

merchant_periods as (
    select
        merchant_id,
        period,
        cast(period_start as date) as period_start,
        least({{ sales_period_end('period', 'cast(period_start as date)') }}, as_of) as stock_date
    from period_series
),

stock_levels as (
    select
        movements.merchant_id,
        movements.product_id,
        movements.occurred_date,
        sum(sum(movements.on_hand_delta)) over (
            partition by movements.merchant_id, movements.product_id
            order by movements.occurred_date
        ) as on_hand
    from {{ ref('stg_postgres__stock_movements') }} as movements
    inner join merchants on merchants.merchant_id = movements.merchant_id
    where movements.occurred_date <= merchants.as_of
    group by movements.merchant_id, movements.product_id, movements.occurred_date
),

products as (
    select merchant_id, product_id, sku_code, sku_name
    from {{ ref('stg_postgres__products') }}
    where is_active
),

product_periods as (
    select
        products.merchant_id,
        products.product_id,
        merchant_periods.period,
        merchant_periods.period_start,
        merchant_periods.stock_date
    from products
    inner join merchant_periods on merchant_periods.merchant_id = products.merchant_id
),

-- Stock at each period's end is the level of the SKU's last change point on or before it:
-- one sorted pass per SKU over change points and period ends (a range join would compare
-- every period with every change point of the SKU). A change on the period's last day sorts
-- first, as stock counts at the end of the day.
events as (
    select
        merchant_id,
        product_id,
        occurred_date as event_date,
        false as is_period_end,
        on_hand,
        null as period,
        cast(null as date) as period_start
    from stock_levels
    union all
    select
        merchant_id,
        product_id,
        stock_date as event_date,
        true as is_period_end,
        null as on_hand,
        period,
        period_start
    from product_periods
),

period_stock as (
    select
        merchant_id,
        product_id,
        period,
        period_start,
        is_period_end,
        {{ last_value_ignoring_nulls('on_hand') }} over (
            partition by merchant_id, product_id
            order by event_date, is_period_end
            rows between unbounded preceding and current row
        ) as on_hand
    from events
)

select
    period_stock.merchant_id,
    period_stock.product_id,
    products.sku_code,
    products.sku_name,
    period_stock.period,
    period_stock.period_start,
    cast(period_stock.on_hand as integer) as period_end_on_hand
from period_stock
inner join products on products.product_id = period_stock.product_id
where period_stock.is_period_end
  and period_stock.on_hand > 0
