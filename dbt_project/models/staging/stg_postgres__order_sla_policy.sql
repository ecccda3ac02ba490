with source as (
    select * from {{ source('raw', 'order_sla_policy') }}
)

select
    singleton,
    confirm_within,
    ship_within,
    fresh_ship_within
from source
