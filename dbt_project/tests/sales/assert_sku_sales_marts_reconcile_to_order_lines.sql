{{ config(meta={"dagster": {"ref": {"name": "fct_sku_period_sales"}}}) }}

-- The SKU marts built on the daily facts (their own dbt invocation): per merchant, every grain
-- of fct_sku_period_sales and fct_daily_sales must equal the net line amount of orders placed by
-- as_of and not cancelled by then. A row here names the mart that drifted.

with {{ expected_sales_revenue_ctes() }},

daily_sales as (
    select merchant_id, sum(revenue) as revenue
    from {{ ref('fct_daily_sales') }}
    group by merchant_id
),

mart_totals as (
    select 'fct_sku_period_sales' as mart, merchant_id, period as part, sum(revenue) as revenue, 'sku_revenue' as measure
    from {{ ref('fct_sku_period_sales') }}
    group by merchant_id, period
    union all
    select 'fct_daily_sales', merchant_id, 'day', revenue, 'sku_revenue'
    from daily_sales
),

{{ sales_revenue_mismatches() }}
