{#- The service and risk marts' helpers. -#}

{#- The instant a business date ends (midnight after it, Asia/Shanghai), as timestamptz: what was
    recorded before it is known at that as_of. -#}
{% macro business_day_end(date_column) -%}
    {{ instant_of_local("cast(" ~ date_column ~ " + 1 as timestamp)", var("business_timezone")) }}
{%- endmacro %}

{#- Hours between two timestamptz values, fractional. -#}
{% macro hours_between(start_column, end_column) -%}
    ({{ epoch_seconds(end_column) }} - {{ epoch_seconds(start_column) }}) / 3600.0
{%- endmacro %}

{#- Impact 1..5 of an amount at stake (CNY): one step up at each of var risk_impact_value_floors. -#}
{% macro risk_impact(amount) -%}
    {%- set floors = var("risk_impact_value_floors") | map("float") | sort -%}
    (1
    {%- for floor in floors %}
        + case when coalesce({{ amount }}, 0) >= {{ floor }} then 1 else 0 end
    {%- endfor %})
{%- endmacro %}

{#- high | medium | low from a score and var risk_level_floors. -#}
{% macro risk_level(score) -%}
    {%- set floors = var("risk_level_floors") -%}
    case
        when {{ score }} >= {{ floors["high"] }} then 'high'
        when {{ score }} >= {{ floors["medium"] }} then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- Service levels per merchant × period of order placement from fct_order_sla (the daily and
    monthly SLA marts differ only in the period). as_of is the merchant's current one: rows of
    fct_order_sla keep the as_of of the run that built their partition. -#}
{% macro merchant_sla_summary(period_expression, period_column) -%}
with orders as (
    select
        merchant_id,
        merchant_code,
        {{ period_expression }} as {{ period_column }},
        has_fresh_goods,
        is_ship_open,
        cancelled_at,
        confirm_hours,
        ship_hours,
        confirm_breached,
        ship_breached,
        fresh_ship_breached
    from {{ ref('fct_order_sla') }}
),

counted as (
    select
        merchant_id,
        merchant_code,
        {{ period_column }},
        count(*) as orders,
        count(*) filter (where has_fresh_goods) as fresh_orders,
        count(*) filter (where cancelled_at is not null) as cancelled_orders,
        count(*) filter (where is_ship_open) as open_orders,
        count(*) filter (where confirm_breached) as confirm_breaches,
        count(*) filter (where ship_breached) as ship_breaches,
        count(*) filter (where fresh_ship_breached) as fresh_ship_breaches,
        avg(confirm_hours) as avg_confirm_hours,
        avg(ship_hours) as avg_ship_hours,
        percentile_cont(0.9) within group (order by ship_hours) as p90_ship_hours
    from orders
    group by merchant_id, merchant_code, {{ period_column }}
)

select
    counted.merchant_id,
    counted.merchant_code,
    counted.{{ period_column }},
    cast(orders as integer) as orders,
    cast(fresh_orders as integer) as fresh_orders,
    cast(cancelled_orders as integer) as cancelled_orders,
    cast(open_orders as integer) as open_orders,
    cast(confirm_breaches as integer) as confirm_breaches,
    cast(ship_breaches as integer) as ship_breaches,
    cast(fresh_ship_breaches as integer) as fresh_ship_breaches,
    cast(confirm_breaches / orders as double) as confirm_breach_rate,
    cast(ship_breaches / orders as double) as ship_breach_rate,
    cast(fresh_ship_breaches / nullif(fresh_orders, 0) as double) as fresh_ship_breach_rate,
    cast(avg_confirm_hours as double) as avg_confirm_hours,
    cast(avg_ship_hours as double) as avg_ship_hours,
    cast(p90_ship_hours as double) as p90_ship_hours,
    merchants.as_of
from counted
inner join {{ ref('int_merchants_as_of') }} as merchants on merchants.merchant_id = counted.merchant_id
{%- endmacro %}
