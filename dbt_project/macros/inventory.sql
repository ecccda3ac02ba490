{#- Inventory rules read from vars: the trailing windows of turnover and stock-out days, and the
    stock-ageing buckets, so no window or bucket bound is a literal in a model. -#}

{#- The trailing windows (days) of var turnover_windows_days, ascending. -#}
{% macro inventory_windows() -%}
    {%- set windows = var("turnover_windows_days") | map("int") | list | unique | sort -%}
    {%- if windows | length == 0 or windows[0] < 1 -%}
        {{ exceptions.raise_compiler_error("var turnover_windows_days needs positive day counts, got " ~ var("turnover_windows_days")) }}
    {%- endif -%}
    {{ return(windows) }}
{%- endmacro %}

{#- One row per trailing window: a relation to cross join with. -#}
{% macro inventory_windows_relation() -%}
    (values {% for days in inventory_windows() %}({{ days }}){{ ", " if not loop.last }}{% endfor %}) as windows (window_days)
{%- endmacro %}

{#- The ageing buckets of var stock_ageing_bucket_days: bounds [30, 60, 90] give 0-30, 31-60,
    61-90 and 90+ (age in whole days, each bucket's upper bound inclusive, the last open). -#}
{% macro stock_ageing_buckets() -%}
    {%- set bounds = var("stock_ageing_bucket_days") | map("int") | list | unique | sort -%}
    {%- if bounds | length == 0 or bounds[0] < 0 -%}
        {{ exceptions.raise_compiler_error("var stock_ageing_bucket_days needs non-negative day counts, got " ~ var("stock_ageing_bucket_days")) }}
    {%- endif -%}
    {%- set buckets = [] -%}
    {%- set lower = namespace(days=0) -%}
    {%- for upper in bounds -%}
        {%- do buckets.append({"no": loop.index, "label": lower.days ~ "-" ~ upper, "min_days": lower.days, "max_days": upper}) -%}
        {%- set lower.days = upper + 1 -%}
    {%- endfor -%}
    {%- do buckets.append({"no": bounds | length + 1, "label": bounds[-1] ~ "+", "min_days": bounds[-1] + 1, "max_days": none}) -%}
    {{ return(buckets) }}
{%- endmacro %}

{#- The bucket's number, label, or lower/upper bound (field: no | label | min_days | max_days)
    for an age in days. -#}
{% macro stock_ageing_bucket(age_days, field) -%}
    case
        {%- for bucket in stock_ageing_buckets() %}
        {%- set value = bucket[field] %}
        {%- set literal = "null" if value is none else ("'" ~ value ~ "'" if field == "label" else value) %}
        {%- if bucket.max_days is none %}
        else {{ literal }}
        {%- else %}
        when {{ age_days }} <= {{ bucket.max_days }} then {{ literal }}
        {%- endif %}
        {%- endfor %}
    end
{%- endmacro %}

{#- accepted_values for a bucket label column, with the labels taken from the var. -#}
{% test accepted_stock_ageing_buckets(model, column_name) %}
    select {{ column_name }} as unexpected_label
    from {{ model }}
    where {{ column_name }} not in (
        {%- for bucket in stock_ageing_buckets() %}'{{ bucket.label }}'{{ ", " if not loop.last }}{% endfor -%}
    )
       or {{ column_name }} is null
{% endtest %}

{#- accepted_values for a window column, with the windows taken from var turnover_windows_days. -#}
{% test accepted_inventory_windows(model, column_name) %}
    select {{ column_name }} as unexpected_window
    from {{ model }}
    where {{ column_name }} not in ({{ inventory_windows() | join(", ") }})
       or {{ column_name }} is null
{% endtest %}

{#- 库存周转率 = COGS ÷ average inventory: NULL without inventory, and a negative COGS (returns of
    earlier sales outweighing the window's sales) turns over 0, as a negative turnover means nothing. -#}
{% macro inventory_turnover(cogs, average_inventory_value) -%}
    case
        when {{ average_inventory_value }} > 0
            then greatest(cast({{ cogs }} as double), 0) / {{ average_inventory_value }}
    end
{%- endmacro %}
