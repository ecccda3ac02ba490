{#- Money rules of the finance marts. The ledger keeps integer cents; marts show CNY. -#}

{#- Integer cents as a DECIMAL(18,2) amount: multiplying by the decimal 0.01 stays exact, where
    dividing integers in DuckDB would go through DOUBLE. -#}
{% macro cents_to_amount(cents) -%}
    cast(cast({{ cents }} as decimal(18, 0)) * 0.01 as decimal(18, 2))
{%- endmacro %}

{#- Overdue bucket of a receivable from its days past due (as_of − due date). Due on as_of or
    later is not overdue; var receivable_overdue_bucket_days holds the buckets' upper bounds
    (default [30, 60]: overdue_1_30, overdue_31_60, overdue_61_plus), the last bucket being
    open-ended. -#}
{% macro receivable_overdue_bucket(days_overdue) -%}
    {%- set bounds = var("receivable_overdue_bucket_days") | map("int") | sort -%}
    {%- set lower = namespace(day=1) -%}
    case
        when {{ days_overdue }} <= 0 then 'not_due'
        {%- for bound in bounds %}
        when {{ days_overdue }} <= {{ bound }} then 'overdue_{{ lower.day }}_{{ bound }}'
        {%- set lower.day = bound + 1 %}
        {%- endfor %}
        else 'overdue_{{ bounds[-1] + 1 }}_plus'
    end
{%- endmacro %}
