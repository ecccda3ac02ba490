{#- Sales periods. A period is named by its grain ('day', 'week', 'month', 'quarter') and its
    first day: weeks are ISO weeks starting on Monday (DuckDB's date_trunc('week')), months and
    quarters start on their calendar first day. -#}

{#- The grains as a one-column relation to cross join with daily rows; `grains` defaults to all
    four (the SKU marts leave out 'day', which fct_daily_sales already is). -#}
{% macro sales_periods(grains=["day", "week", "month", "quarter"]) -%}
    (values {% for grain in grains %}('{{ grain }}'){{ ", " if not loop.last }}{% endfor %}) as periods (period)
{%- endmacro %}

{% macro sales_period_start(period, date_column) -%}
    case {{ period }}
        when 'day' then {{ date_column }}
        when 'week' then cast(date_trunc('week', {{ date_column }}) as date)
        when 'month' then cast(date_trunc('month', {{ date_column }}) as date)
        when 'quarter' then cast(date_trunc('quarter', {{ date_column }}) as date)
    end
{%- endmacro %}

{#- The period's last day (inclusive). -#}
{% macro sales_period_end(period, period_start) -%}
    case {{ period }}
        when 'day' then {{ period_start }}
        when 'week' then {{ period_start }} + 6
        when 'month' then last_day({{ period_start }})
        when 'quarter' then cast({{ period_start }} + interval 3 month as date) - 1
    end
{%- endmacro %}

{#- The first day of the period before. -#}
{% macro sales_previous_period_start(period, period_start) -%}
    case {{ period }}
        when 'day' then {{ period_start }} - 1
        when 'week' then {{ period_start }} - 7
        when 'month' then cast({{ period_start }} - interval 1 month as date)
        when 'quarter' then cast({{ period_start }} - interval 3 month as date)
    end
{%- endmacro %}

{#- The period columns every sales mart carries, in this order: period, period_start,
    period_end, is_complete_period (ended on or before as_of), as_of. -#}
{% macro sales_period_columns(period, period_start, as_of) -%}
    {{ period }} as period,
    {{ period_start }} as period_start,
    {{ sales_period_end(period, period_start) }} as period_end,
    {{ sales_period_end(period, period_start) }} <= {{ as_of }} as is_complete_period,
    {{ as_of }} as as_of
{%- endmacro %}
