-- The funnel of each promotion's SKUs while it ran, against the same SKUs over an equal number
-- of days just before it started. Sessions are summed over SKU × day (a session that viewed two
-- promoted SKUs counts twice), the same way in both windows, so the two compare like for like.
-- No comparison when the days before fall before the merchant's first day of traffic.

{%- set stages = ['exposure_sessions', 'product_view_sessions', 'cart_add_sessions', 'purchase_sessions'] %}
{%- set rates = [
    ('exposure_to_view_rate', 'product_view_sessions', 'exposure_sessions'),
    ('view_to_cart_rate', 'cart_add_sessions', 'product_view_sessions'),
    ('cart_to_purchase_rate', 'purchase_sessions', 'cart_add_sessions'),
    ('view_to_purchase_rate', 'purchase_sessions', 'product_view_sessions'),
] %}

with merchants as (
    select merchant_id, merchant_code
    from {{ ref('int_merchants_as_of') }}
),

scoped as (
    select *
    from {{ ref('int_promotion_products_scoped') }}
),

promotions as (
    select
        promotion_id,
        merchant_id,
        promotion_code,
        promotion_name,
        promotion_kind,
        promotion_scope,
        starts_date,
        ends_date,
        promotion_days,
        observed_days,
        as_of,
        count(*) as skus_in_scope
    from scoped
    group by all
),

first_traffic as (
    select merchant_id, min(event_date) as first_event_date
    from {{ ref('int_funnel_events_aggregated') }}
    where is_shop_total
    group by merchant_id
),

sku_days as (
    select merchant_id, product_id, event_date, {{ stages | join(', ') }}
    from {{ ref('int_funnel_events_aggregated') }}
    where not is_shop_total
),

windows as (
    select
        scoped.promotion_id,
        {%- for stage in stages %}
        sum(sku_days.{{ stage }}) filter (where sku_days.event_date >= scoped.starts_date) as during_{{ stage }},
        sum(sku_days.{{ stage }}) filter (where sku_days.event_date < scoped.starts_date) as before_{{ stage }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from scoped
    inner join sku_days
        on sku_days.merchant_id = scoped.merchant_id
        and sku_days.product_id = scoped.product_id
        and sku_days.event_date >= scoped.starts_date - scoped.observed_days
        and sku_days.event_date < scoped.starts_date + scoped.observed_days
    group by scoped.promotion_id
),

compared as (
    select
        promotions.*,
        first_traffic.first_event_date is not null
            and promotions.starts_date - promotions.observed_days >= first_traffic.first_event_date
            as has_comparison_window,
        {%- for stage in stages %}
        coalesce(windows.during_{{ stage }}, 0) as during_{{ stage }},
        coalesce(windows.before_{{ stage }}, 0) as before_{{ stage }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from promotions
    left join windows on windows.promotion_id = promotions.promotion_id
    left join first_traffic on first_traffic.merchant_id = promotions.merchant_id
)

select
    compared.merchant_id,
    merchants.merchant_code,
    compared.promotion_id,
    compared.promotion_code,
    compared.promotion_name,
    compared.promotion_kind,
    compared.promotion_scope,
    cast(compared.skus_in_scope as integer) as skus_in_scope,
    compared.starts_date,
    compared.ends_date,
    cast(compared.promotion_days as integer) as promotion_days,
    cast(compared.observed_days as integer) as observed_days,
    {%- for stage in stages %}
    cast(compared.during_{{ stage }} as integer) as during_{{ stage }},
    {%- endfor %}
    {%- for name, numerator, denominator in rates %}
    {{ safe_ratio('compared.during_' ~ numerator, 'compared.during_' ~ denominator) }} as during_{{ name }},
    {%- endfor %}
    compared.has_comparison_window,
    {%- for stage in stages %}
    cast(case when compared.has_comparison_window then compared.before_{{ stage }} end as integer) as before_{{ stage }},
    {%- endfor %}
    {%- for name, numerator, denominator in rates %}
    case when compared.has_comparison_window then
        {{ safe_ratio('compared.before_' ~ numerator, 'compared.before_' ~ denominator) }}
    end as before_{{ name }},
    {%- endfor %}
    case when compared.has_comparison_window then
        {{ safe_ratio('compared.during_purchase_sessions', 'compared.before_purchase_sessions') }}
    end as purchase_sessions_lift,
    compared.as_of
from compared
inner join merchants on merchants.merchant_id = compared.merchant_id
