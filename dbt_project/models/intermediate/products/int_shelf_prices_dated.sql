-- Each SKU's shelf price (the retail price of one unit that every region pays) over the business
-- days it was in force: from the day it was set until the day the next one was (exclusive). A
-- price changed twice in one day counts from that day in its last version, as the forecast's
-- price features read it.

with shelf_prices as (
    select
        merchant_id,
        product_id,
        unit_price,
        valid_from_date,
        row_number() over (
            partition by product_id, valid_from_date order by valid_from desc, price_change_id desc
        ) as newest_of_day
    from {{ ref('stg_postgres__product_price_history') }}
    where tier = 'retail' and region is null and min_quantity = 1
)

select
    merchant_id,
    product_id,
    unit_price,
    valid_from_date,
    lead(valid_from_date) over (partition by product_id order by valid_from_date) as valid_until_date
from shelf_prices
where newest_of_day = 1
