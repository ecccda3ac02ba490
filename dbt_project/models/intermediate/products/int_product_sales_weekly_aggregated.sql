-- Units and revenue per merchant × SKU × week of the classification window (var
-- classification_history_days trailing the merchant's as_of). Weeks are counted back from as_of
-- (week 0 = the 7 days ending on as_of), so every week has 7 days whatever weekday as_of is;
-- when the window is not a whole number of weeks, the oldest week is partial (is_full_week).
{%- set history_days = var("classification_history_days") | int %}

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

lines as (
    select
        lines.merchant_id,
        lines.product_id,
        merchants.as_of,
        cast({{ integer_divide(dbt.datediff("lines.ordered_date", "merchants.as_of", "day"), 7) }} as integer) as weeks_before_as_of,
        lines.quantity,
        lines.revenue
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join merchants on merchants.merchant_id = lines.merchant_id
    where lines.ordered_date > merchants.as_of - {{ history_days }}
)

select
    merchant_id,
    product_id,
    as_of,
    weeks_before_as_of,
    cast(as_of - 7 * weeks_before_as_of - 6 as date) as week_start_date,
    cast(as_of - 7 * weeks_before_as_of as date) as week_end_date,
    7 * (weeks_before_as_of + 1) <= {{ history_days }} as is_full_week,
    cast(sum(quantity) as bigint) as quantity,
    cast(sum(revenue) as decimal(18, 2)) as revenue
from lines
group by merchant_id, product_id, as_of, weeks_before_as_of
