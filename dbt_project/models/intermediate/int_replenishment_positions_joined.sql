-- Everything replenishment needs per merchant × active SKU × warehouse, except the forecast
-- (which comes from ml.* and joins in the mart, so this model can build before forecasting):
-- sellable stock, open purchase quantities, the warehouse's share of recent demand and the
-- day-to-day variability of the SKU's demand over var demand_history_days.

{%- set history_days = var("demand_history_days") | int %}

with merchants as (
    select merchant_id, merchant_code, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

products as (
    select
        product_id,
        merchant_id,
        sku_code,
        sku_name,
        supplier_id,
        unit_cost,
        lead_time_days,
        min_order_qty,
        order_multiple
    from {{ ref('stg_postgres__products') }}
    where is_active
),

warehouses as (
    select warehouse_id, merchant_id, warehouse_code
    from {{ ref('stg_postgres__warehouses') }}
),

warehouse_counts as (
    select merchant_id, count(*) as warehouses
    from warehouses
    group by merchant_id
),

suppliers as (
    select supplier_id, supplier_code, supplier_name
    from {{ ref('stg_postgres__suppliers') }}
),

history as (
    select
        lines.merchant_id,
        lines.product_id,
        lines.warehouse_id,
        lines.ordered_date,
        lines.quantity
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join merchants on merchants.merchant_id = lines.merchant_id
    where lines.ordered_date > merchants.as_of - {{ history_days }}
),

warehouse_demand as (
    select merchant_id, product_id, warehouse_id, sum(quantity) as quantity
    from history
    group by merchant_id, product_id, warehouse_id
),

daily_demand as (
    select merchant_id, product_id, ordered_date, sum(quantity) as quantity
    from history
    group by merchant_id, product_id, ordered_date
),

-- Sample standard deviation over all days of the window, days without sales counted as
-- zero; from sums, so the zero days need not be generated.
demand_variability as (
    select
        merchant_id,
        product_id,
        sum(quantity) as quantity,
        sqrt(greatest(
            (sum(quantity * quantity) - sum(quantity) * sum(quantity) / {{ history_days }})
            / nullif({{ history_days }} - 1, 0),
            0
        )) as daily_demand_stddev
    from daily_demand
    group by merchant_id, product_id
),

stock as (
    select
        merchant_id,
        product_id,
        warehouse_id,
        sum(on_hand) as on_hand,
        -- Only unexpired, free units can meet future demand: reserved units already belong to
        -- orders in the sales history, frozen ones are held back, expired ones are never sold.
        sum(case when not is_expired then available else 0 end) as available
    from {{ ref('int_stock_batches_classified') }}
    group by merchant_id, product_id, warehouse_id
),

on_order as (
    select merchant_id, product_id, warehouse_id, sum(outstanding_quantity) as on_order
    from {{ ref('int_purchase_order_lines_outstanding') }}
    group by merchant_id, product_id, warehouse_id
)

select
    merchants.merchant_id,
    merchants.merchant_code,
    products.product_id,
    products.sku_code,
    products.sku_name,
    warehouses.warehouse_id,
    warehouses.warehouse_code,
    suppliers.supplier_code,
    suppliers.supplier_name,
    merchants.as_of,
    products.lead_time_days,
    -- The usual days between two orders to a supplier; the plan shortens it for perishables.
    {{ var("review_period_days") }} as review_period_days,
    products.min_order_qty,
    products.order_multiple,
    products.unit_cost,
    -- The forecast is for all warehouses together; each warehouse takes its share of recent
    -- sales, or an equal share when the SKU sold nothing in the window.
    cast(
        case
            when coalesce(demand_variability.quantity, 0) > 0
                then coalesce(warehouse_demand.quantity, 0) / demand_variability.quantity
            else 1.0 / warehouse_counts.warehouses
        end as double
    ) as demand_share,
    cast(coalesce(demand_variability.daily_demand_stddev, 0) as double) as daily_demand_stddev,
    cast(coalesce(stock.on_hand, 0) as integer) as on_hand,
    cast(coalesce(stock.available, 0) as integer) as available,
    cast(coalesce(on_order.on_order, 0) as integer) as on_order
from products
inner join merchants on merchants.merchant_id = products.merchant_id
inner join warehouses on warehouses.merchant_id = products.merchant_id
inner join warehouse_counts on warehouse_counts.merchant_id = products.merchant_id
left join suppliers on suppliers.supplier_id = products.supplier_id
left join demand_variability
    on demand_variability.merchant_id = products.merchant_id
    and demand_variability.product_id = products.product_id
left join warehouse_demand
    on warehouse_demand.merchant_id = products.merchant_id
    and warehouse_demand.product_id = products.product_id
    and warehouse_demand.warehouse_id = warehouses.warehouse_id
left join stock
    on stock.product_id = products.product_id
    and stock.warehouse_id = warehouses.warehouse_id
left join on_order
    on on_order.product_id = products.product_id
    and on_order.warehouse_id = warehouses.warehouse_id
