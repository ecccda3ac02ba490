-- Stock on hand at the merchant's as_of per merchant × SKU × warehouse × age bucket, age being
-- as_of − the batch's received date (a batch moved between warehouses keeps its age). The
-- buckets come from var stock_ageing_bucket_days ([30, 60, 90] → 0-30, 31-60, 61-90, 90+);
-- only buckets holding stock get a row, so a SKU's rows sum to its on-hand in fct_stock_positions.

with batches as (
    select
        merchant_id,
        warehouse_id,
        product_id,
        as_of,
        on_hand,
        stock_value,
        {{ dbt.datediff("received_date", "as_of", "day") }} as age_days
    from {{ ref('int_stock_batches_classified') }}
    where on_hand > 0
),

bucketed as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        as_of,
        {{ stock_ageing_bucket('age_days', 'no') }} as bucket_no,
        {{ stock_ageing_bucket('age_days', 'label') }} as bucket_label,
        {{ stock_ageing_bucket('age_days', 'min_days') }} as bucket_min_days,
        {{ stock_ageing_bucket('age_days', 'max_days') }} as bucket_max_days,
        on_hand,
        stock_value,
        age_days
    from batches
),

buckets as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        as_of,
        bucket_no,
        bucket_label,
        bucket_min_days,
        bucket_max_days,
        sum(on_hand) as quantity,
        sum(stock_value) as stock_value,
        count(*) as batches,
        min(age_days) as youngest_age_days,
        max(age_days) as oldest_age_days
    from bucketed
    group by merchant_id, product_id, warehouse_id, as_of, bucket_no, bucket_label, bucket_min_days, bucket_max_days
),

merchants as (
    select merchant_id, merchant_code
    from {{ ref('stg_postgres__merchants') }}
),

warehouses as (
    select warehouse_id, warehouse_code
    from {{ ref('stg_postgres__warehouses') }}
),

products as (
    select product_id, sku_code
    from {{ ref('stg_postgres__products') }}
)

select
    buckets.merchant_id,
    merchants.merchant_code,
    buckets.product_id,
    products.sku_code,
    buckets.warehouse_id,
    warehouses.warehouse_code,
    buckets.as_of,
    cast(buckets.bucket_no as integer) as bucket_no,
    cast(buckets.bucket_label as {{ dbt.type_string() }}) as bucket_label,
    cast(buckets.bucket_min_days as integer) as bucket_min_days,
    cast(buckets.bucket_max_days as integer) as bucket_max_days,
    cast(buckets.quantity as integer) as quantity,
    cast(buckets.stock_value as decimal(18, 2)) as stock_value,
    cast(buckets.batches as integer) as batches,
    cast(buckets.youngest_age_days as integer) as youngest_age_days,
    cast(buckets.oldest_age_days as integer) as oldest_age_days
from buckets
inner join merchants on merchants.merchant_id = buckets.merchant_id
inner join warehouses on warehouses.warehouse_id = buckets.warehouse_id
inner join products on products.product_id = buckets.product_id
