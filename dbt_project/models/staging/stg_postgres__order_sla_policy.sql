with source as (
    select * from {{ source('raw', 'order_sla_policy') }}
)

select
    singleton,
    {{ source_interval('confirm_within') }} as confirm_within,
    {{ source_interval('ship_within') }} as ship_within,
    {{ source_interval('fresh_ship_within') }} as fresh_ship_within
from source
