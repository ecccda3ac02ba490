{#- Models land in exactly the schema they configure (staging, intermediate, marts): the DuckDB
    schemas are a fixed contract, and dbt's default would prefix them with the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
