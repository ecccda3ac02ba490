{#- Funnel and promotion ratios. -#}

{#- numerator ÷ denominator as a DOUBLE, NULL when the denominator is zero or unknown: a stage
    nobody reached has no conversion, which is not the same as a conversion of 0. -#}
{% macro safe_ratio(numerator, denominator) -%}
    case when ({{ denominator }}) <> 0 then cast({{ numerator }} as double) / ({{ denominator }}) end
{%- endmacro %}

{#- The last business date a [starts_at, ends_at) window covers: ends_at is exclusive, so a
    window ending at midnight ends on the day before. -#}
{% macro last_business_date_before(column) -%}
    {{ business_date("(" ~ column ~ " - interval '1 microsecond')") }}
{%- endmacro %}

{#- Events and distinct sessions per funnel stage (event_type 1 exposure … 5 purchase) of the
    rows grouped; a purchase is counted by its order, as one order may be spread over lines. -#}
{% macro funnel_stage_counts() -%}
        count(*) filter (where event_type = 1) as exposures,
        count(*) filter (where event_type = 2) as visits,
        count(*) filter (where event_type = 3) as product_views,
        count(*) filter (where event_type = 4) as cart_adds,
        count(distinct order_id) filter (where event_type = 5) as purchases,
        count(distinct session_id) filter (where event_type = 1) as exposure_sessions,
        count(distinct session_id) filter (where event_type = 2) as visit_sessions,
        count(distinct session_id) filter (where event_type = 3) as product_view_sessions,
        count(distinct session_id) filter (where event_type = 4) as cart_add_sessions,
        count(distinct session_id) filter (where event_type = 5) as purchase_sessions
{%- endmacro %}
