-- 预测准确率 per merchant, as the dashboard shows it: 1 − WAPE at the monthly SKU level, i.e.
-- 1 − Σ|forecast − actual| / Σ actual over the merchant's SKUs, each SKU's totals over the 28 days
-- after the last backtest origin (fct_forecast_accuracy). Big sellers weigh most; NULL when
-- nothing sold in the window.

select
    merchant_id,
    merchant_code,
    as_of,
    window_start,
    window_end,
    cast(count(*) as integer) as skus,
    cast(sum(actual_units) as double) as actual_units,
    cast(sum(forecast_units) as double) as forecast_units,
    cast(sum(absolute_error) as double) as absolute_error,
    cast(1 - sum(absolute_error) / nullif(sum(actual_units), 0) as double) as forecast_accuracy
from {{ ref('fct_forecast_accuracy') }}
group by merchant_id, merchant_code, as_of, window_start, window_end
