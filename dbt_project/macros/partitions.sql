{#- Daily partitions of the large facts. A partitioned run (a Dagster backfill, days in
    Asia/Shanghai) passes its window as run vars (run_var) partition_start (inclusive) and
    partition_end (exclusive), 'YYYY-MM-DD'; without them the model covers every day. -#}

{% macro partition_window() -%}
    {%- set start = run_var("partition_start") -%}
    {%- set end = run_var("partition_end") -%}
    {%- if start is none or end is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for value in (start, end) -%}
        {%- if not modules.re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", value | string) -%}
            {{ exceptions.raise_compiler_error("vars partition_start and partition_end must be YYYY-MM-DD, got " ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return((start | string, end | string)) }}
{%- endmacro %}

{#- The rows of the run's window: every row when the run has none. -#}
{% macro in_partition_window(date_column) -%}
    {%- set window = partition_window() -%}
    {%- if window is none -%}
        true
    {%- else -%}
        {{ date_column }} >= date '{{ window[0] }}' and {{ date_column }} < date '{{ window[1] }}'
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a partitioned incremental model: the window's old rows go, in the transaction
    that appends its new ones, so a day is replaced whole (days that lost every sale too). -#}
{% macro replace_partition_window(date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_partition_window(date_column) }}
    {%- endif -%}
{%- endmacro %}
