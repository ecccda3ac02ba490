{#- Fails with one row per duplicated key: dbt_utils' test of the same name, which the offline
    build cannot install. NULLs group together, so a NULL key part is compared like a value. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(", ") %}
    select {{ columns }}, count(*) as rows_with_key
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
