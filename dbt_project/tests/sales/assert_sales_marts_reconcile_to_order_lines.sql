{{ config(meta={"dagster": {"ref": {"name": "fct_merchant_period_sales"}}}) }}

-- Every sales mart adds up to the order lines. Per merchant, the revenue of each period grain
-- of the merchant, region and channel marts must equal the net line amount of orders placed
-- by as_of and not cancelled by then, plus imported amount-only orders, computed here straight
-- from staging; the category mart (each grain, each level) must equal that line amount alone.
-- The SKU marts, built on the daily facts, have their own test. A row here names the mart that drifted.

with {{ expected_sales_revenue_ctes() }},

mart_totals as (
    select 'fct_merchant_period_sales' as mart, merchant_id, period as part, sum(revenue) as revenue, 'revenue' as measure
    from {{ ref('fct_merchant_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_merchant_period_sales', merchant_id, period, sum(sku_revenue), 'sku_revenue'
    from {{ ref('fct_merchant_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_region_period_sales', merchant_id, period, sum(revenue), 'revenue'
    from {{ ref('fct_region_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_channel_period_sales', merchant_id, channel_type || ' ' || period, sum(revenue), 'revenue'
    from {{ ref('fct_channel_period_sales') }}
    group by merchant_id, channel_type, period
    union all
    select 'fct_category_period_sales', merchant_id, 'level ' || category_level || ' ' || period, sum(revenue), 'sku_revenue'
    from {{ ref('fct_category_period_sales') }}
    group by merchant_id, category_level, period
),

{{ sales_revenue_mismatches() }}
