-- Every promotion started by the merchant's as_of × each SKU in its scope, with the promotion's
-- days (int_promotion_products_known holds the scope; this keeps the promotions under way or over).

select
    promotion_id,
    merchant_id,
    promotion_code,
    promotion_name,
    promotion_kind,
    promotion_scope,
    product_id,
    starts_date,
    ends_date,
    cast({{ dbt.datediff("starts_date", "ends_date", "day") }} + 1 as integer) as promotion_days,
    -- A promotion still running at as_of is measured over the days it has run so far.
    cast({{ dbt.datediff("starts_date", "least(ends_date, as_of)", "day") }} + 1 as integer) as observed_days,
    as_of
from {{ ref('int_promotion_products_known') }}
where starts_date <= as_of
