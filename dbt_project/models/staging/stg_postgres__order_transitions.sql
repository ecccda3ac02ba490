with source as (
    select * from {{ source('raw', 'order_transitions') }}
)

select
    from_status,
    to_status
from source
