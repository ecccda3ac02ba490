-- Every category with its path up the three-level tree and the rules it inherits: a category is
-- fresh (生鲜, ships within fresh_ship_within) when it or an ancestor is, and allows 7-day
-- no-reason returns only when it and all its ancestors do (as core.category_rules decides).

with categories as (
    select
        category_id,
        category_code,
        category_name,
        category_level,
        parent_category_id,
        is_fresh,
        no_reason_returns
    from {{ ref('stg_postgres__categories') }}
)

select
    categories.category_id,
    categories.category_code,
    categories.category_name,
    categories.category_level,
    coalesce(grandparents.category_id, parents.category_id, categories.category_id) as category_l1_id,
    case categories.category_level
        when 1 then null
        when 2 then categories.category_id
        else parents.category_id
    end as category_l2_id,
    case when categories.category_level = 3 then categories.category_id end as category_l3_id,
    categories.is_fresh
        or coalesce(parents.is_fresh, false)
        or coalesce(grandparents.is_fresh, false) as is_fresh,
    categories.no_reason_returns
        and coalesce(parents.no_reason_returns, true)
        and coalesce(grandparents.no_reason_returns, true) as no_reason_returns
from categories
left join categories as parents on parents.category_id = categories.parent_category_id
left join categories as grandparents on grandparents.category_id = parents.parent_category_id
