{#- Sources for a build on Spark: each exported table (Parquet files in a directory of its own)
    becomes a Spark table of the source's schema and name, so `source()` resolves as on DuckDB.
    `tables` is a list of {schema, name, location}; run with `dbt run-operation --target spark`. -#}
{% macro register_parquet_sources(tables) %}
    {%- for schema in tables | map(attribute="schema") | unique %}
        {%- do run_query("create database if not exists " ~ schema) %}
    {%- endfor %}
    {%- for table in tables %}
        {%- set relation = table.schema ~ "." ~ table.name %}
        {%- do run_query("drop table if exists " ~ relation) %}
        {%- do run_query("create table " ~ relation ~ " using parquet location '" ~ table.location ~ "'") %}
    {%- endfor %}
    {{ log("Registered " ~ tables | length ~ " source tables", info=true) }}
{% endmacro %}

{#- An INTERVAL column of a source. Parquet has no interval type Spark reads, so the export to
    Spark writes intervals as whole microseconds. -#}
{% macro source_interval(column) -%}
    {{ return(adapter.dispatch("source_interval")(column)) }}
{%- endmacro %}

{% macro default__source_interval(column) -%}
    {{ column }}
{%- endmacro %}

{% macro spark__source_interval(column) -%}
    make_dt_interval(0, 0, 0, cast({{ column }} / 1000000.0 as decimal(18, 6)))
{%- endmacro %}
