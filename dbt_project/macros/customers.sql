{#- Classification rules of the customer and merchant marts, read from vars. -#}

{#- The first day of a trailing window of `days` days that ends on (and includes) as_of. -#}
{% macro trailing_window_start(as_of, days) -%}
    ({{ as_of }} - {{ (days | int) - 1 }})
{%- endmacro %}

{#- Value tier from a customer's position in its merchant's ranking by trailing amount (RANK(),
    so equal amounts share the better position) among `customers` ranked customers. A tier takes
    the positions up to ceil(cumulative share × customers): top 5% diamond, up to 20% gold, up
    to 50% silver. Rounding up gives a merchant with 1–20 customers one diamond customer; ties
    at a boundary all take the higher tier. Shares are exact decimals, so 0.05 × 20 is 1, not
    1.0000000000000002 rounded up to 2. -#}
{% macro customer_value_tier(position, customers) -%}
    {%- set shares = var("customer_tier_shares") -%}
    {%- set ns = namespace(cumulative=0.0) -%}
    case
        when {{ position }} is null then 'none'
    {%- for tier in ["diamond", "gold", "silver"] %}
        {%- if shares[tier] is not defined or shares[tier] < 0 -%}
            {{ exceptions.raise_compiler_error("var customer_tier_shares needs a share >= 0 for " ~ tier) }}
        {%- endif -%}
        {%- set ns.cumulative = ns.cumulative + shares[tier] -%}
        {%- if ns.cumulative > 1.000001 -%}
            {{ exceptions.raise_compiler_error("var customer_tier_shares adds up to more than 1") }}
        {%- endif %}
        when {{ position }} <= ceil({{ customers }} * cast('{{ "%.6f" | format(ns.cumulative) }}' as decimal(9, 6))) then '{{ tier }}'
    {%- endfor %}
        else 'none'
    end
{%- endmacro %}

{#- Quantile score 1..rfm_score_levels: ceil(levels × the share of the merchant's scored
    customers whose value is no better than this one's). Ties share the higher score; one
    customer alone scores the top level. Integer arithmetic, so no float rounding at a boundary. -#}
{% macro quantile_score(no_better_count, scored_count) -%}
    {%- set levels = var("rfm_score_levels") | int -%}
    {%- if levels < 2 or levels > 9 -%}
        {{ exceptions.raise_compiler_error("var rfm_score_levels must be 2..9, got " ~ levels) }}
    {%- endif -%}
    cast({{ integer_divide(levels ~ " * " ~ no_better_count ~ " + " ~ scored_count ~ " - 1", scored_count) }} as integer)
{%- endmacro %}

{#- A score on rfm_score_levels levels on the 5-level scale the segment map is written for. -#}
{% macro score_on_five_levels(score) -%}
    {%- set levels = var("rfm_score_levels") | int -%}
    {{ integer_divide(score ~ " * 5 + " ~ (levels - 1), levels) }}
{%- endmacro %}

{#- The common 10-segment RFM map on recency × frequency scores (5 levels; monetary is shown
    beside it but does not move the segment). -#}
{% macro rfm_segment(recency_score, frequency_score) -%}
    {%- set r = score_on_five_levels(recency_score) -%}
    {%- set f = score_on_five_levels(frequency_score) -%}
    case
        when {{ r }} <= 2 and {{ f }} <= 2 then 'hibernating'
        when {{ r }} <= 2 and {{ f }} <= 4 then 'at_risk'
        when {{ r }} <= 2 then 'cannot_lose'
        when {{ r }} = 3 and {{ f }} <= 2 then 'about_to_sleep'
        when {{ r }} = 3 and {{ f }} = 3 then 'need_attention'
        when {{ r }} <= 4 and {{ f }} >= 4 then 'loyal'
        when {{ r }} = 4 and {{ f }} = 1 then 'promising'
        when {{ r }} = 5 and {{ f }} = 1 then 'new'
        when {{ f }} <= 3 then 'potential_loyalist'
        else 'champions'
    end
{%- endmacro %}

{#- Purchase habit by the average days between purchase days (var customer_habit_interval_days). -#}
{% macro customer_habit_segment(purchase_days, avg_days_between_purchases) -%}
    {%- set limits = var("customer_habit_interval_days") -%}
    case
        when coalesce({{ purchase_days }}, 0) = 0 then 'no_purchase'
        when {{ purchase_days }} = 1 then 'one_time'
        when {{ avg_days_between_purchases }} <= {{ limits[0] }} then 'frequent'
        when {{ avg_days_between_purchases }} <= {{ limits[1] }} then 'regular'
        else 'occasional'
    end
{%- endmacro %}

{#- Merchant growth tier by trailing sales (var merchant_growth_tier_floors, CNY); a value
    exactly on a floor belongs to the higher tier. -#}
{% macro merchant_growth_tier(sales) -%}
    {%- set floors = var("merchant_growth_tier_floors") -%}
    case
    {%- for tier in ["elite", "senior", "growth", "standard"] %}
        when {{ sales }} >= {{ floors[tier] }} then '{{ tier }}'
    {%- endfor %}
        else 'entry'
    end
{%- endmacro %}
