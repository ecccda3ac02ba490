with merchants as (
    select merchant_id, merchant_code, merchant_name, merchant_type, region
    from {{ ref('stg_postgres__merchants') }}
),

as_of_dates as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
)

select
    merchants.merchant_id,
    merchants.merchant_code,
    merchants.merchant_name,
    merchants.merchant_type,
    merchants.region,
    as_of_dates.as_of
from merchants
left join as_of_dates on as_of_dates.merchant_id = merchants.merchant_id
