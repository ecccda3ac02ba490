{#- The platform's business rules, read from vars so no threshold is a literal in a model. -#}

{#- The business date of a timestamptz: trading days are counted in the merchant's local time. -#}
{% macro business_date(column) -%}
    {{ local_date(column, var("business_timezone")) }}
{%- endmacro %}

{#- A value a run may set: a var given on the command line (--vars, as analysts and tests pass it),
    else the environment variable COOPCAST_VAR_<NAME> (as the pipeline passes it), else none.
    The pipeline does not use --vars because dbt parses the whole project again whenever they
    differ from the saved parse's, and only the files that read an environment variable when
    that changes. -#}
{% macro run_var(name) -%}
    {%- set value = var(name, env_var("COOPCAST_VAR_" ~ (name | upper), "")) -%}
    {%- if value is none or (value | string | trim) in ("", "None", "none", "null") -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- The run's fixed as_of as 'YYYY-MM-DD' (run_var as_of), or none when each merchant takes its
    own last day. -#}
{% macro as_of_override() -%}
    {%- set value = run_var("as_of") -%}
    {%- if value is none -%}
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
