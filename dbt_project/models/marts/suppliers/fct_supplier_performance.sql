-- Supplier performance (供应商绩效) per merchant × supplier, over the trailing
-- supplier_performance_window_days up to as_of and over all time up to as_of: deliveries,
-- on-time delivery rate (交货及时率 = on-time receipts ÷ receipts), quality pass rate
-- (质量合格率 = passed ÷ delivered units), lead time from purchase order to receipt, lateness.
-- Every supplier of the merchant has both rows, with zero deliveries when it delivered nothing
-- in the window (its rates are then NULL, not 0: nothing was measured).

{%- set window_days = var("supplier_performance_window_days") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

windows as (
    select
        merchants.merchant_id,
        merchants.merchant_code,
        merchants.as_of,
        windows.performance_window,
        windows.window_days,
        case when windows.window_days is not null then merchants.as_of - windows.window_days + 1 end as window_start
    from merchants
    cross join (
        select 'all_time' as performance_window, cast(null as integer) as window_days
        union all
        select 'trailing', {{ window_days }}
    ) as windows
),

suppliers as (
    select
        supplier_id,
        merchant_id,
        supplier_code,
        supplier_name,
        qualification_grade,
        is_blacklisted,
        lead_time_days as agreed_lead_time_days
    from {{ ref('stg_postgres__suppliers') }}
),

receipts as (
    select
        windows.merchant_id,
        windows.performance_window,
        receipts.supplier_id,
        count(*) as deliveries,
        count(*) filter (where receipts.on_time) as on_time_deliveries,
        count(*) filter (where receipts.rejected_quantity > 0) as deliveries_with_rejections,
        sum(receipts.delivered_quantity) as delivered_quantity,
        sum(receipts.passed_quantity) as passed_quantity,
        sum(receipts.rejected_quantity) as rejected_quantity,
        sum(receipts.delivered_value) as delivered_value,
        avg(receipts.lead_time_days) as lead_time_mean_days,
        percentile_cont(0.5) within group (order by receipts.lead_time_days) as lead_time_median_days,
        percentile_cont(0.9) within group (order by receipts.lead_time_days) as lead_time_p90_days,
        max(receipts.lead_time_days) as lead_time_max_days,
        sum(receipts.days_late) as days_late_total,
        avg(receipts.days_late) filter (where not receipts.on_time) as days_late_mean,
        max(receipts.days_late) as days_late_max,
        max(receipts.received_date) as last_received_date
    from {{ ref('int_purchase_receipts_enriched') }} as receipts
    inner join windows
        on windows.merchant_id = receipts.merchant_id
        and (windows.window_start is null or receipts.received_date >= windows.window_start)
    group by windows.merchant_id, windows.performance_window, receipts.supplier_id
),

-- Purchase orders placed in the window (cancelled ones too: they were placed), and those
-- still open at as_of (placed, neither received nor cancelled by then).
purchase_orders as (
    select
        windows.merchant_id,
        windows.performance_window,
        orders.supplier_id,
        count(*) filter (
            where windows.window_start is null or orders.ordered_date >= windows.window_start
        ) as purchase_orders,
        count(*) filter (
            where (orders.received_date is null or orders.received_date > windows.as_of)
              and (orders.purchase_order_status <> 'cancelled' or orders.updated_date > windows.as_of)
        ) as open_purchase_orders
    from {{ ref('stg_postgres__purchase_orders') }} as orders
    inner join windows
        on windows.merchant_id = orders.merchant_id
        and orders.ordered_date <= windows.as_of
    -- A draft is not an order yet.
    where orders.purchase_order_status <> 'draft'
    group by windows.merchant_id, windows.performance_window, orders.supplier_id
)

select
    windows.merchant_id,
    windows.merchant_code,
    suppliers.supplier_id,
    suppliers.supplier_code,
    suppliers.supplier_name,
    suppliers.qualification_grade,
    suppliers.is_blacklisted,
    windows.performance_window,
    windows.window_days,
    windows.window_start,
    cast(coalesce(purchase_orders.purchase_orders, 0) as integer) as purchase_orders,
    cast(coalesce(purchase_orders.open_purchase_orders, 0) as integer) as open_purchase_orders,
    cast(coalesce(receipts.deliveries, 0) as integer) as deliveries,
    cast(coalesce(receipts.on_time_deliveries, 0) as integer) as on_time_deliveries,
    cast(receipts.on_time_deliveries / nullif(receipts.deliveries, 0) as double) as on_time_rate,
    cast(coalesce(receipts.delivered_quantity, 0) as bigint) as delivered_quantity,
    cast(coalesce(receipts.passed_quantity, 0) as bigint) as passed_quantity,
    cast(coalesce(receipts.rejected_quantity, 0) as bigint) as rejected_quantity,
    cast(receipts.passed_quantity / nullif(receipts.delivered_quantity, 0) as double) as quality_pass_rate,
    cast(coalesce(receipts.deliveries_with_rejections, 0) as integer) as deliveries_with_rejections,
    cast(coalesce(receipts.delivered_value, 0) as decimal(18, 2)) as delivered_value,
    suppliers.agreed_lead_time_days,
    cast(receipts.lead_time_mean_days as double) as lead_time_mean_days,
    cast(receipts.lead_time_median_days as double) as lead_time_median_days,
    cast(receipts.lead_time_p90_days as double) as lead_time_p90_days,
    cast(receipts.lead_time_max_days as integer) as lead_time_max_days,
    cast(coalesce(receipts.days_late_total, 0) as integer) as days_late_total,
    cast(receipts.days_late_mean as double) as days_late_mean,
    cast(receipts.days_late_max as integer) as days_late_max,
    receipts.last_received_date,
    windows.as_of
from windows
inner join suppliers on suppliers.merchant_id = windows.merchant_id
left join receipts
    on receipts.merchant_id = windows.merchant_id
    and receipts.performance_window = windows.performance_window
    and receipts.supplier_id = suppliers.supplier_id
left join purchase_orders
    on purchase_orders.merchant_id = windows.merchant_id
    and purchase_orders.performance_window = windows.performance_window
    and purchase_orders.supplier_id = suppliers.supplier_id
