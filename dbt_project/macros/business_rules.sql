{#- The platform's business rules, read from vars so no threshold is a literal in a model. -#}

{#- The business date of a timestamptz: trading days are counted in the merchant's local time. -#}
{% macro business_date(column) -%}
    {{ local_date(column, var("business_timezone")) }}
{%- endmacro %}

{#- The run's fixed as_of as 'YYYY-MM-DD', or none when each merchant takes its own last day. -#}
{% macro as_of_override() -%}
    {%- set value = var("as_of") -%}
    {%- if value is none or (value | string | trim) in ("", "None", "none", "null") -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", text) -%}
        {{ exceptions.raise_compiler_error("var as_of must be YYYY-MM-DD, got " ~ text) }}
    {%- endif -%}
    {%- do modules.datetime.datetime.strptime(text, "%Y-%m-%d") -%}
    {{ return(text) }}
{%- endmacro %}

{#- 临期 levels: the smallest configured level at or above the days left; expired batches (expiry
    on or before the day: zero or fewer days left) and undated ones get none, expired stock
    being its own class. -#}
{% macro near_expiry_level(days_to_expiry) -%}
    {%- set levels = var("near_expiry_days") | map("int") | sort -%}
    case
        when {{ days_to_expiry }} is null or {{ days_to_expiry }} <= 0 then null
        {%- for level in levels %}
        when {{ days_to_expiry }} <= {{ level }} then {{ level }}
        {%- endfor %}
    end
{%- endmacro %}
