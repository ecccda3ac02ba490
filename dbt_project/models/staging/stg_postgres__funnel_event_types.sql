with source as (
    select * from {{ source('raw', 'funnel_event_types') }}
)

select
    event_type,
    name as event_type_name
from source
