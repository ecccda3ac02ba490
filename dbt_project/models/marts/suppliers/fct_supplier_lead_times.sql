-- Lead-time distribution per merchant × supplier × lead time in days (purchase order date to
-- receipt date), all receipts up to as_of: how often each lead time happened, the share of
-- the supplier's receipts, and the cumulative share up to it (read the p-th percentile where
-- it first reaches p).

with receipts as (
    select merchant_id, supplier_id, lead_time_days, on_time, as_of
    from {{ ref('int_purchase_receipts_enriched') }}
),

counted as (
    select
        merchant_id,
        supplier_id,
        lead_time_days,
        as_of,
        count(*) as deliveries,
        count(*) filter (where on_time) as on_time_deliveries
    from receipts
    group by merchant_id, supplier_id, lead_time_days, as_of
),

shares as (
    select
        *,
        deliveries / sum(deliveries) over (partition by merchant_id, supplier_id) as delivery_share,
        sum(deliveries) over (
            partition by merchant_id, supplier_id order by lead_time_days
            rows between unbounded preceding and current row
        ) / sum(deliveries) over (partition by merchant_id, supplier_id) as cumulative_share
    from counted
)

select
    shares.merchant_id,
    merchants.merchant_code,
    shares.supplier_id,
    suppliers.supplier_code,
    suppliers.supplier_name,
    shares.lead_time_days,
    cast(shares.deliveries as integer) as deliveries,
    cast(shares.on_time_deliveries as integer) as on_time_deliveries,
    cast(shares.delivery_share as double) as delivery_share,
    cast(shares.cumulative_share as double) as cumulative_share,
    shares.as_of
from shares
inner join {{ ref('stg_postgres__merchants') }} as merchants on merchants.merchant_id = shares.merchant_id
inner join {{ ref('stg_postgres__suppliers') }} as suppliers on suppliers.supplier_id = shares.supplier_id
