with source as (
    select * from {{ source('raw', 'categories') }}
)

select
    category_id,
    category_code,
    name as category_name,
    name_en as category_name_en,
    cast(level as integer) as category_level,
    parent_id as parent_category_id,
    is_fresh,
    no_reason_returns,
    created_at
from source
