-- 临期品 per batch: every batch with stock at as_of that is expired or within a near-expiry level
-- (var near_expiry_days), with the value at risk (units on hand × the batch's cost). Batches
-- with a later or no expiry date are not listed; fct_stock_on_hand has every batch.
{%- set levels = var("near_expiry_days") | map("int") | sort %}
{%- set classes = near_expiry_classes() %}

with batches as (
    select
        merchant_id,
        merchant_code,
        warehouse_id,
        warehouse_code,
        product_id,
        sku_code,
        batch_id,
        lot_code,
        received_date,
        expiry_date,
        days_to_expiry,
        near_expiry_level,
        is_expired,
        on_hand,
        available,
        unit_cost,
        stock_value,
        as_of
    from {{ ref('fct_stock_on_hand') }}
    where is_expired or near_expiry_level is not null
),

products as (
    select product_id, sku_name, category_l1, category_l2, category_l3
    from {{ ref('dim_products') }}
)

select
    batches.merchant_id,
    batches.merchant_code,
    batches.warehouse_id,
    batches.warehouse_code,
    batches.product_id,
    batches.sku_code,
    products.sku_name,
    products.category_l1,
    products.category_l2,
    products.category_l3,
    batches.batch_id,
    batches.lot_code,
    batches.received_date,
    batches.expiry_date,
    batches.days_to_expiry,
    batches.near_expiry_level,
    case
        when batches.is_expired then '{{ classes[0] }}'
        {%- for level in levels %}
        when batches.near_expiry_level = {{ level }} then '{{ classes[loop.index] }}'
        {%- endfor %}
    end as expiry_class,
    batches.is_expired,
    batches.on_hand,
    batches.available,
    batches.unit_cost,
    cast(batches.stock_value as decimal(18, 2)) as value_at_risk,
    batches.as_of
from batches
left join products on products.product_id = batches.product_id
order by batches.merchant_code, batches.expiry_date, batches.warehouse_code, batches.batch_id
