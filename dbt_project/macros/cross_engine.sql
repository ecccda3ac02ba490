{#- SQL that DuckDB and Spark write differently and dbt has no cross-database macro for. Each
    macro dispatches on the adapter: `default__` is DuckDB's (the platform's engine), `spark__`
    the Spark SQL of the same result. Spark sessions run in UTC (profiles.yml), so a Spark
    TIMESTAMP is rendered as the UTC wall clock and zone conversions are explicit. -#}

{#- The type of an instant: DuckDB's timestamptz; Spark's TIMESTAMP is already one. -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch("type_timestamptz")()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp
{%- endmacro %}

{#- The local date of an instant in a time zone. -#}
{% macro local_date(column, time_zone) -%}
    {{ return(adapter.dispatch("local_date")(column, time_zone)) }}
{%- endmacro %}

{% macro default__local_date(column, time_zone) -%}
    cast(({{ column }} at time zone '{{ time_zone }}') as date)
{%- endmacro %}

{% macro spark__local_date(column, time_zone) -%}
    cast(from_utc_timestamp({{ column }}, '{{ time_zone }}') as date)
{%- endmacro %}

{#- The instant of a wall-clock TIMESTAMP in a time zone. -#}
{% macro instant_of_local(local_timestamp, time_zone) -%}
    {{ return(adapter.dispatch("instant_of_local")(local_timestamp, time_zone)) }}
{%- endmacro %}

{% macro default__instant_of_local(local_timestamp, time_zone) -%}
    timezone('{{ time_zone }}', {{ local_timestamp }})
{%- endmacro %}

{% macro spark__instant_of_local(local_timestamp, time_zone) -%}
    to_utc_timestamp({{ local_timestamp }}, '{{ time_zone }}')
{%- endmacro %}

{#- Seconds since 1970-01-01 00:00 UTC of an instant, with its fraction. -#}
{% macro epoch_seconds(column) -%}
    {{ return(adapter.dispatch("epoch_seconds")(column)) }}
{%- endmacro %}

{% macro default__epoch_seconds(column) -%}
    epoch({{ column }})
{%- endmacro %}

{% macro spark__epoch_seconds(column) -%}
    (unix_micros({{ column }}) / 1000000.0)
{%- endmacro %}

{#- Whole microseconds since 1970-01-01 00:00 UTC of an instant. -#}
{% macro epoch_microseconds(column) -%}
    {{ return(adapter.dispatch("epoch_microseconds")(column)) }}
{%- endmacro %}

{% macro default__epoch_microseconds(column) -%}
    epoch_us({{ column }})
{%- endmacro %}

{% macro spark__epoch_microseconds(column) -%}
    unix_micros({{ column }})
{%- endmacro %}

{#- The instant a number of seconds after 1970-01-01 00:00 UTC. -#}
{% macro instant_from_epoch_seconds(seconds) -%}
    {{ return(adapter.dispatch("instant_from_epoch_seconds")(seconds)) }}
{%- endmacro %}

{% macro default__instant_from_epoch_seconds(seconds) -%}
    to_timestamp({{ seconds }})
{%- endmacro %}

{% macro spark__instant_from_epoch_seconds(seconds) -%}
    timestamp_seconds({{ seconds }})
{%- endmacro %}

{#- Integer division truncated toward zero (both engines truncate; only the operator differs). -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch("integer_divide")(dividend, divisor)) }}
{%- endmacro %}

{% macro default__integer_divide(dividend, divisor) -%}
    (({{ dividend }}) // ({{ divisor }}))
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    (({{ dividend }}) div ({{ divisor }}))
{%- endmacro %}

{#- ISO day of the week: Monday 1 … Sunday 7. -#}
{% macro iso_weekday(date_column) -%}
    {{ return(adapter.dispatch("iso_weekday")(date_column)) }}
{%- endmacro %}

{% macro default__iso_weekday(date_column) -%}
    isodow({{ date_column }})
{%- endmacro %}

{% macro spark__iso_weekday(date_column) -%}
    extract(dayofweek_iso from {{ date_column }})
{%- endmacro %}

{#- One output row per value of the list (a select-list expression, like UNNEST). -#}
{% macro unnest_values(values) -%}
    {{ return(adapter.dispatch("unnest_values")(values)) }}
{%- endmacro %}

{% macro default__unnest_values(values) -%}
    unnest([{{ values | join(", ") }}])
{%- endmacro %}

{% macro spark__unnest_values(values) -%}
    explode(array({{ values | join(", ") }}))
{%- endmacro %}

{#- One output row per integer from `first` to `last`, both included (a select-list expression). -#}
{% macro unnest_integer_range(first, last) -%}
    {{ return(adapter.dispatch("unnest_integer_range")(first, last)) }}
{%- endmacro %}

{% macro default__unnest_integer_range(first, last) -%}
    unnest(range({{ first }}, ({{ last }}) + 1))
{%- endmacro %}

{% macro spark__unnest_integer_range(first, last) -%}
    explode(sequence({{ first }}, {{ last }}))
{%- endmacro %}

{#- One output row per day from `first` to `last`, both included, a step of `step_months` months
    plus `step_days` days apart (a select-list expression; cast its value to DATE, as DuckDB
    yields timestamps). -#}
{% macro unnest_date_range(first, last, step_months, step_days) -%}
    {{ return(adapter.dispatch("unnest_date_range")(first, last, step_months, step_days)) }}
{%- endmacro %}

{% macro default__unnest_date_range(first, last, step_months, step_days) -%}
    unnest(generate_series(
        cast({{ first }} as date),
        cast({{ last }} as date),
        to_months({{ step_months }}) + to_days({{ step_days }})
    ))
{%- endmacro %}

{% macro spark__unnest_date_range(first, last, step_months, step_days) -%}
    explode(sequence(
        cast({{ first }} as date),
        cast({{ last }} as date),
        make_interval(0, {{ step_months }}, 0, {{ step_days }})
    ))
{%- endmacro %}

{#- A value that orders by its parts in turn, for max_by / min_by over a compound key. -#}
{% macro ordering_key(parts) -%}
    {{ return(adapter.dispatch("ordering_key")(parts)) }}
{%- endmacro %}

{% macro default__ordering_key(parts) -%}
    row({{ parts | join(", ") }})
{%- endmacro %}

{% macro spark__ordering_key(parts) -%}
    struct({{ parts | join(", ") }})
{%- endmacro %}


{#- The last non-NULL value of the window frame (to be followed by `over (...)`). -#}
{% macro last_value_ignoring_nulls(column) -%}
    {{ return(adapter.dispatch("last_value_ignoring_nulls")(column)) }}
{%- endmacro %}

{% macro default__last_value_ignoring_nulls(column) -%}
    last_value({{ column }} ignore nulls)
{%- endmacro %}

{% macro spark__last_value_ignoring_nulls(column) -%}
    last_value({{ column }}, true)
{%- endmacro %}

{#- dbt's cast for Spark, which names two of the contracts' types differently: VARCHAR needs a
    length there (STRING has none) and its TIMESTAMP is the instant DuckDB calls timestamptz. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_types = {"varchar": "string", "timestamp with time zone": "timestamp", "timestamptz": "timestamp"} -%}
    cast({{ field }} as {{ spark_types.get(type | trim | lower, type) }})
{%- endmacro %}

{#- The keyword that makes DuckDB compute a CTE once for all its readers; Spark has no such hint
    (its optimizer decides), so there it is empty. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch("materialized_cte")()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
    materialized
{%- endmacro %}

{% macro spark__materialized_cte() -%}
{%- endmacro %}

{#- A DOUBLE rounded to `digits` decimals, half away from zero, as DuckDB does it: the value
    times 10^digits rounded to a whole number. Spark's round(double, digits) rounds the shortest
    decimal form instead (543.045 is 543.04499… in binary: DuckDB 543.04, Spark 543.05); its
    round(double, 0) on the scaled value agrees with DuckDB. -#}
{% macro round_double(expression, digits) -%}
    {{ return(adapter.dispatch("round_double")(expression, digits)) }}
{%- endmacro %}

{% macro default__round_double(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{% macro spark__round_double(expression, digits) -%}
    (round(cast({{ expression }} as double) * {{ 10 ** digits }}, 0) / {{ 10 ** digits }})
{%- endmacro %}

{#- A DOUBLE as DECIMAL(precision, scale), rounded like DuckDB's cast (see round_double). -#}
{% macro decimal_from_double(expression, precision, scale) -%}
    {{ return(adapter.dispatch("decimal_from_double")(expression, precision, scale)) }}
{%- endmacro %}

{% macro default__decimal_from_double(expression, precision, scale) -%}
    cast({{ expression }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro spark__decimal_from_double(expression, precision, scale) -%}
    cast({{ spark__round_double(expression, scale) }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
