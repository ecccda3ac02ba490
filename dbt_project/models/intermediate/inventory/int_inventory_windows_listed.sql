-- The trailing windows of the inventory marts per merchant: each of var turnover_windows_days
-- ending on (and including) the merchant's as_of.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
)

select
    merchants.merchant_id,
    merchants.as_of,
    windows.window_days,
    merchants.as_of - windows.window_days + 1 as window_start
from merchants
cross join {{ inventory_windows_relation() }}
