with source as (
    select * from {{ source('raw', 'orders') }}
)

select
    order_id,
    merchant_id,
    order_no,
    customer_id,
    warehouse_id,
    status as order_status,
    ordered_at,
    {{ business_date('ordered_at') }} as ordered_date,
    confirmed_at,
    {{ business_date('confirmed_at') }} as confirmed_date,
    reviewed_at,
    picked_at,
    shipped_at,
    {{ business_date('shipped_at') }} as shipped_date,
    in_transit_at,
    delivered_at,
    {{ business_date('delivered_at') }} as delivered_date,
    completed_at,
    {{ business_date('completed_at') }} as completed_date,
    cancelled_at,
    {{ business_date('cancelled_at') }} as cancelled_date,
    total_amount,
    payment_method,
    credit_term_days,
    source as order_source,
    external_order_code,
    updated_at
from source
