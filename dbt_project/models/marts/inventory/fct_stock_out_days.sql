-- Days a merchant had none of a SKU to sell in any of its warehouses and sold none of it: the
-- customers who asked that day left no trace, so the demand forecast takes the day as unknown
-- rather than as a day of no demand (models/forecasting/stock_outs.py). One row per merchant ×
-- SKU × such day, over the longest trailing window (var turnover_windows_days) from the day the
-- ledger first held the SKU. A day counts by its end-of-day sellable stock (on hand − reserved −
-- frozen, in batches not expired that day) summed over the warehouses, from the changes
-- fct_low_stock_days sums per warehouse (int_stock_sellable_changes).

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

-- Summed over the warehouses, the running total is what the merchant could sell.
daily_changes as (
    select merchant_id, product_id, change_date, sum(change) as change
    from {{ ref('int_stock_sellable_changes') }}
    group by merchant_id, product_id, change_date
),

levels as (
    select
        daily_changes.merchant_id,
        daily_changes.product_id,
        daily_changes.change_date as valid_from,
        coalesce(lead(daily_changes.change_date) over sku_days, merchants.as_of + 1) as valid_to,
        sum(daily_changes.change) over (
            partition by daily_changes.merchant_id, daily_changes.product_id
            order by daily_changes.change_date
            rows between unbounded preceding and current row
        ) as sellable
    from daily_changes
    inner join merchants on merchants.merchant_id = daily_changes.merchant_id
    window sku_days as (partition by daily_changes.merchant_id, daily_changes.product_id order by daily_changes.change_date)
),

empty_runs as (
    select
        merchant_id,
        product_id,
        {{ unnest_date_range('valid_from', 'valid_to - 1', '0', '1') }} as stock_out_day
    from levels
    where sellable = 0
      and valid_to > valid_from
),

empty_days as (
    select merchant_id, product_id, cast(stock_out_day as date) as stock_out_date
    from empty_runs
),

sold as (
    select distinct merchant_id, product_id, ordered_date
    from {{ ref('int_order_lines_enriched') }}
),

products as (
    select product_id, sku_code
    from {{ ref('stg_postgres__products') }}
)

select
    empty_days.merchant_id,
    merchants.merchant_code,
    empty_days.product_id,
    products.sku_code,
    empty_days.stock_out_date,
    merchants.as_of
from empty_days
inner join merchants on merchants.merchant_id = empty_days.merchant_id
inner join products on products.product_id = empty_days.product_id
left join sold
    on sold.merchant_id = empty_days.merchant_id
    and sold.product_id = empty_days.product_id
    and sold.ordered_date = empty_days.stock_out_date
where sold.merchant_id is null
