{#- The classes of fct_near_expiry_batches.expiry_class: expired, then within_<level>_days for
    each level of var near_expiry_days, most urgent first. -#}
{% macro near_expiry_classes() -%}
    {%- set levels = var("near_expiry_days") | map("int") | sort -%}
    {%- set classes = ["expired"] -%}
    {%- for level in levels -%}
        {%- do classes.append("within_" ~ level ~ "_days") -%}
    {%- endfor -%}
    {{ return(classes) }}
{%- endmacro %}
