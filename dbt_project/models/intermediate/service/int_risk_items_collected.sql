-- Candidate supply-chain risk items per merchant at as_of, before scoring: each with the
-- probability it materialises (0–1), the CNY at stake (mapped to impact 1–5 by the mart),
-- its urgency (var risk_urgency by type) and a reason. Thresholds are the vars under "# Risk";
-- rates and amounts are over the last risk_window_days up to as_of.
--   supplier   blacklisted_supplier: blacklisted yet delivering in the window or with open orders
--              late_supplier: on-time delivery rate below risk_supplier_on_time_floor
--              poor_quality_supplier: quality pass rate below risk_supplier_quality_floor
--              (both over at least risk_supplier_min_deliveries deliveries)
--   inventory  stock_out / low_stock: an A-class SKU (fct_product_abc_xyz) out of stock in every
--              warehouse, or below its low-stock threshold (fct_inventory_flags)
--              overstock: a slow-moving SKU's stock value
--   logistics  ship_delay: a warehouse's ship-SLA breach rate at least risk_ship_breach_rate_floor
--              and higher than over the window before
--   market     cost_swing: a leaf category's mean product unit cost moved by at least
--              risk_cost_change_floor over the window, or its successive cost changes in the
--              window spread (standard deviation) at least that much

{%- set window_days = var("risk_window_days") | int %}
{%- set urgency = var("risk_urgency") %}
{%- set on_time_floor = var("risk_supplier_on_time_floor") | float %}
{%- set quality_floor = var("risk_supplier_quality_floor") | float %}
{%- set min_deliveries = var("risk_supplier_min_deliveries") | int %}
{%- set ship_breach_floor = var("risk_ship_breach_rate_floor") | float %}
{%- set cost_change_floor = var("risk_cost_change_floor") | float %}
{%- set overstock_certain_days = var("risk_overstock_certain_days") | int %}

with merchants as (
    select
        merchant_id,
        as_of,
        as_of - {{ window_days }} + 1 as window_start,
        {{ business_day_end('as_of') }} as as_of_end,
        {{ business_day_end('as_of - ' ~ window_days) }} as window_start_at
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

suppliers as (
    select supplier_id, merchant_id, supplier_code, supplier_name, is_blacklisted
    from {{ ref('stg_postgres__suppliers') }}
),

supplier_receipts as (
    select
        receipts.merchant_id,
        receipts.supplier_id,
        count(*) as deliveries,
        count(*) filter (where receipts.on_time) as on_time_deliveries,
        count(*) filter (where receipts.rejected_quantity > 0) as deliveries_with_rejections,
        sum(receipts.delivered_quantity) as delivered_quantity,
        sum(receipts.passed_quantity) as passed_quantity,
        sum(receipts.delivered_value) as delivered_value,
        max(receipts.days_late) as days_late_max
    from {{ ref('int_purchase_receipts_enriched') }} as receipts
    inner join merchants on merchants.merchant_id = receipts.merchant_id
    where receipts.received_date >= merchants.window_start
    group by receipts.merchant_id, receipts.supplier_id
),

open_purchase_orders as (
    select
        orders.merchant_id,
        orders.supplier_id,
        count(distinct orders.purchase_order_id) as open_orders,
        sum(lines.quantity * lines.unit_cost) as open_value
    from {{ ref('stg_postgres__purchase_orders') }} as orders
    inner join {{ ref('stg_postgres__purchase_order_lines') }} as lines
        on lines.purchase_order_id = orders.purchase_order_id
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date <= merchants.as_of
      and (orders.received_date is null or orders.received_date > merchants.as_of)
      and (orders.purchase_order_status <> 'cancelled' or orders.updated_date > merchants.as_of)
      and orders.purchase_order_status <> 'draft'
    group by orders.merchant_id, orders.supplier_id
),

supplier_stats as (
    select
        suppliers.*,
        coalesce(supplier_receipts.deliveries, 0) as deliveries,
        supplier_receipts.on_time_deliveries / nullif(supplier_receipts.deliveries, 0) as on_time_rate,
        supplier_receipts.passed_quantity / nullif(supplier_receipts.delivered_quantity, 0) as quality_pass_rate,
        supplier_receipts.deliveries_with_rejections / nullif(supplier_receipts.deliveries, 0) as rejection_share,
        coalesce(supplier_receipts.delivered_value, 0) as delivered_value,
        supplier_receipts.days_late_max,
        coalesce(open_purchase_orders.open_orders, 0) as open_orders,
        coalesce(open_purchase_orders.open_value, 0) as open_value
    from suppliers
    left join supplier_receipts
        on supplier_receipts.merchant_id = suppliers.merchant_id
        and supplier_receipts.supplier_id = suppliers.supplier_id
    left join open_purchase_orders
        on open_purchase_orders.merchant_id = suppliers.merchant_id
        and open_purchase_orders.supplier_id = suppliers.supplier_id
),

supplier_items as (
    select
        merchant_id,
        'supplier' as risk_kind,
        'blacklisted_supplier' as risk_type,
        'supplier' as subject_kind,
        supplier_code as subject_code,
        supplier_name as subject_name,
        1.0 as probability,
        delivered_value + open_value as amount_at_stake,
        {{ urgency["blacklisted_supplier"] }} as urgency,
        printf('blacklisted, yet %d deliveries in the last {{ window_days }} days and %d open purchase orders',
            deliveries, open_orders) as reason,
        printf('已列入黑名单，但近 {{ window_days }} 天仍有 %d 次到货、%d 张未完成的采购单',
            deliveries, open_orders) as reason_zh
    from supplier_stats
    where is_blacklisted and (deliveries > 0 or open_orders > 0)
    union all
    select
        merchant_id,
        'supplier',
        'late_supplier',
        'supplier',
        supplier_code,
        supplier_name,
        1.0 - on_time_rate,
        delivered_value + open_value,
        {{ urgency["late_supplier"] }},
        printf('on-time delivery rate %.1f%% over %d deliveries in the last {{ window_days }} days (floor %.1f%%), up to %d days late',
            cast(100 * on_time_rate as double), deliveries, cast({{ 100 * on_time_floor }} as double), days_late_max),
        printf('近 {{ window_days }} 天准时到货率 %.1f%%（共 %d 次到货，下限 %.1f%%），最多迟到 %d 天',
            cast(100 * on_time_rate as double), deliveries, cast({{ 100 * on_time_floor }} as double), days_late_max)
    from supplier_stats
    where on_time_rate < {{ on_time_floor }} and deliveries >= {{ min_deliveries }}
    union all
    select
        merchant_id,
        'supplier',
        'poor_quality_supplier',
        'supplier',
        supplier_code,
        supplier_name,
        rejection_share,
        delivered_value + open_value,
        {{ urgency["poor_quality_supplier"] }},
        printf('quality pass rate %.1f%% in the last {{ window_days }} days (floor %.1f%%); %d of %d deliveries had rejections',
            cast(100 * quality_pass_rate as double), cast({{ 100 * quality_floor }} as double),
            cast(round(rejection_share * deliveries) as integer), deliveries),
        printf('近 {{ window_days }} 天质检合格率 %.1f%%（下限 %.1f%%）；%d 次到货中 %d 次有拒收',
            cast(100 * quality_pass_rate as double), cast({{ 100 * quality_floor }} as double),
            deliveries, cast(round(rejection_share * deliveries) as integer))
    from supplier_stats
    where quality_pass_rate < {{ quality_floor }} and deliveries >= {{ min_deliveries }}
),

sku_stock as (
    select
        flags.merchant_id,
        flags.product_id,
        flags.sku_code,
        sum(flags.on_hand) as on_hand,
        sum(flags.available) as available,
        sum(flags.stock_value) as stock_value,
        bool_or(flags.is_low_stock) as is_low_stock,
        bool_or(flags.is_slow_moving) as is_slow_moving,
        sum(case when flags.is_slow_moving then flags.stock_value else 0 end) as slow_moving_value,
        max(flags.days_since_last_sale) as days_since_last_sale,
        count(*) as warehouses
    from {{ ref('fct_inventory_flags') }} as flags
    group by flags.merchant_id, flags.product_id, flags.sku_code
),

sku_window_sales as (
    select lines.merchant_id, lines.product_id, sum(lines.revenue) as revenue
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join merchants on merchants.merchant_id = lines.merchant_id
    where lines.ordered_date >= merchants.window_start
    group by lines.merchant_id, lines.product_id
),

key_skus as (
    select merchant_id, product_id, abc_class
    from {{ ref('fct_product_abc_xyz') }}
    where abc_class = 'A'
),

inventory_items as (
    select
        sku_stock.merchant_id,
        'inventory' as risk_kind,
        case when sku_stock.on_hand = 0 then 'stock_out' else 'low_stock' end as risk_type,
        'sku' as subject_kind,
        sku_stock.sku_code as subject_code,
        products.sku_name as subject_name,
        case
            when sku_stock.on_hand = 0 then 1.0
            else greatest(0.0, least(1.0, 1.0 - sku_stock.available / nullif(products.low_stock_threshold * sku_stock.warehouses, 0)))
        end as probability,
        coalesce(sku_window_sales.revenue, 0) as amount_at_stake,
        case when sku_stock.on_hand = 0 then {{ urgency["stock_out"] }} else {{ urgency["low_stock"] }} end as urgency,
        case
            when sku_stock.on_hand = 0
                then printf('A-class SKU out of stock in every warehouse; sold ¥%.2f in the last {{ window_days }} days',
                    cast(coalesce(sku_window_sales.revenue, 0) as double))
            else printf('A-class SKU below its low-stock threshold: %d available against %d per warehouse',
                sku_stock.available, products.low_stock_threshold)
        end as reason,
        case
            when sku_stock.on_hand = 0
                then printf('A 类商品在所有仓库缺货；近 {{ window_days }} 天销售 ¥%.2f',
                    cast(coalesce(sku_window_sales.revenue, 0) as double))
            else printf('A 类商品低于预警库存：可用 %d，每个仓库的预警线 %d',
                sku_stock.available, products.low_stock_threshold)
        end as reason_zh
    from sku_stock
    inner join key_skus
        on key_skus.merchant_id = sku_stock.merchant_id
        and key_skus.product_id = sku_stock.product_id
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = sku_stock.product_id
    left join sku_window_sales
        on sku_window_sales.merchant_id = sku_stock.merchant_id
        and sku_window_sales.product_id = sku_stock.product_id
    where sku_stock.on_hand = 0 or sku_stock.is_low_stock
    union all
    select
        sku_stock.merchant_id,
        'inventory',
        'overstock',
        'sku',
        sku_stock.sku_code,
        products.sku_name,
        least(1.0, coalesce(sku_stock.days_since_last_sale, {{ overstock_certain_days }}) / {{ overstock_certain_days }}),
        sku_stock.slow_moving_value,
        {{ urgency["overstock"] }},
        printf('slow-moving: ¥%.2f in stock, %s',
            cast(sku_stock.slow_moving_value as double),
            coalesce('no sale for ' || sku_stock.days_since_last_sale || ' days', 'never sold')),
        printf('滞销：库存 ¥%.2f，%s',
            cast(sku_stock.slow_moving_value as double),
            coalesce(sku_stock.days_since_last_sale || ' 天未售出', '从未售出'))
    from sku_stock
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = sku_stock.product_id
    where sku_stock.is_slow_moving and sku_stock.slow_moving_value > 0
),

-- Ship-SLA breaches per warehouse: the last window against the window before it.
warehouse_sla as (
    select
        sla.merchant_id,
        sla.warehouse_id,
        count(*) filter (where sla.ordered_date >= merchants.window_start) as recent_orders,
        count(*) filter (where sla.ordered_date >= merchants.window_start and sla.ship_breached) as recent_breaches,
        count(*) filter (where sla.ordered_date < merchants.window_start) as prior_orders,
        count(*) filter (where sla.ordered_date < merchants.window_start and sla.ship_breached) as prior_breaches,
        sum(orders.total_amount) filter (
            where sla.ordered_date >= merchants.window_start and sla.ship_breached
        ) as recent_breached_amount
    from {{ ref('fct_order_sla') }} as sla
    inner join merchants on merchants.merchant_id = sla.merchant_id
    inner join {{ ref('stg_postgres__orders') }} as orders on orders.order_id = sla.order_id
    where sla.ordered_date >= merchants.window_start - {{ window_days }}
      and sla.warehouse_id is not null
    group by sla.merchant_id, sla.warehouse_id
),

logistics_items as (
    select
        warehouse_sla.merchant_id,
        'logistics' as risk_kind,
        'ship_delay' as risk_type,
        'warehouse' as subject_kind,
        warehouses.warehouse_code as subject_code,
        warehouses.warehouse_name as subject_name,
        warehouse_sla.recent_breaches / warehouse_sla.recent_orders as probability,
        coalesce(warehouse_sla.recent_breached_amount, 0) as amount_at_stake,
        {{ urgency["ship_delay"] }} as urgency,
        printf('ship-SLA breach rate %.1f%% of %d orders in the last {{ window_days }} days, up from %.1f%% the {{ window_days }} days before',
            cast(100 * warehouse_sla.recent_breaches / warehouse_sla.recent_orders as double), warehouse_sla.recent_orders,
            cast(100 * coalesce(warehouse_sla.prior_breaches / nullif(warehouse_sla.prior_orders, 0), 0) as double)) as reason,
        printf('近 {{ window_days }} 天发货超时率 %.1f%%（共 %d 单），此前 {{ window_days }} 天为 %.1f%%',
            cast(100 * warehouse_sla.recent_breaches / warehouse_sla.recent_orders as double), warehouse_sla.recent_orders,
            cast(100 * coalesce(warehouse_sla.prior_breaches / nullif(warehouse_sla.prior_orders, 0), 0) as double)) as reason_zh
    from warehouse_sla
    inner join {{ ref('stg_postgres__warehouses') }} as warehouses on warehouses.warehouse_id = warehouse_sla.warehouse_id
    where warehouse_sla.recent_orders > 0
      and warehouse_sla.recent_breaches / warehouse_sla.recent_orders >= {{ ship_breach_floor }}
      and warehouse_sla.recent_breaches / warehouse_sla.recent_orders
        > coalesce(warehouse_sla.prior_breaches / nullif(warehouse_sla.prior_orders, 0), 0)
),

-- Each product's unit cost at as_of and at the window's start, from its cost history.
product_costs as (
    select
        history.merchant_id,
        history.product_id,
        max_by(history.unit_cost, history.valid_from) filter (where history.valid_from < merchants.as_of_end) as cost_now,
        max_by(history.unit_cost, history.valid_from) filter (where history.valid_from < merchants.window_start_at) as cost_before
    from {{ ref('stg_postgres__product_cost_history') }} as history
    inner join merchants on merchants.merchant_id = history.merchant_id
    group by history.merchant_id, history.product_id
),

-- Successive changes of each product's unit cost inside the window: their spread is the
-- category's volatility, beside the net move.
cost_changes as (
    select
        merchant_id,
        product_id,
        cast(unit_cost as double) / lag(unit_cost) over (partition by merchant_id, product_id order by valid_from) - 1 as change,
        valid_from
    from {{ ref('stg_postgres__product_cost_history') }}
),

category_volatility as (
    select cost_changes.merchant_id, products.category_id, stddev_samp(cost_changes.change) as volatility
    from cost_changes
    inner join merchants on merchants.merchant_id = cost_changes.merchant_id
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = cost_changes.product_id
    where cost_changes.valid_from >= merchants.window_start_at
      and cost_changes.valid_from < merchants.as_of_end
      and cost_changes.change is not null
    group by cost_changes.merchant_id, products.category_id
),

category_costs as (
    select
        product_costs.merchant_id,
        products.category_id,
        avg(cast(product_costs.cost_now as double) / product_costs.cost_before - 1) as cost_change,
        count(*) as products
    from product_costs
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = product_costs.product_id
    where product_costs.cost_before > 0 and product_costs.cost_now is not null
    group by product_costs.merchant_id, products.category_id
),

category_spend as (
    select orders.merchant_id, products.category_id, sum(lines.quantity * lines.unit_cost) as spend
    from {{ ref('stg_postgres__purchase_order_lines') }} as lines
    inner join {{ ref('stg_postgres__purchase_orders') }} as orders on orders.purchase_order_id = lines.purchase_order_id
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = lines.product_id
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date between merchants.window_start and merchants.as_of
      and orders.purchase_order_status not in ('cancelled', 'draft')
    group by orders.merchant_id, products.category_id
),

market_items as (
    select
        category_costs.merchant_id,
        'market' as risk_kind,
        'cost_swing' as risk_type,
        'category' as subject_kind,
        categories.category_code as subject_code,
        categories.category_name as subject_name,
        least(1.0, greatest(abs(category_costs.cost_change), coalesce(category_volatility.volatility, 0))
            / {{ 2 * cost_change_floor }}) as probability,
        coalesce(category_spend.spend, 0) * abs(category_costs.cost_change) as amount_at_stake,
        {{ urgency["cost_swing"] }} as urgency,
        printf('mean unit cost of %d SKUs %s %.1f%% over the last {{ window_days }} days (volatility of changes %.1f%%); ¥%.2f bought in the window',
            category_costs.products,
            case when category_costs.cost_change >= 0 then 'rose' else 'fell' end,
            cast(100 * abs(category_costs.cost_change) as double),
            cast(100 * coalesce(category_volatility.volatility, 0) as double),
            cast(coalesce(category_spend.spend, 0) as double)) as reason,
        printf('%d 个商品的平均进价近 {{ window_days }} 天%s %.1f%%（变动波动率 %.1f%%）；期间采购 ¥%.2f',
            category_costs.products,
            case when category_costs.cost_change >= 0 then '上涨' else '下降' end,
            cast(100 * abs(category_costs.cost_change) as double),
            cast(100 * coalesce(category_volatility.volatility, 0) as double),
            cast(coalesce(category_spend.spend, 0) as double)) as reason_zh
    from category_costs
    inner join {{ ref('stg_postgres__categories') }} as categories on categories.category_id = category_costs.category_id
    left join category_spend
        on category_spend.merchant_id = category_costs.merchant_id
        and category_spend.category_id = category_costs.category_id
    left join category_volatility
        on category_volatility.merchant_id = category_costs.merchant_id
        and category_volatility.category_id = category_costs.category_id
    where abs(category_costs.cost_change) >= {{ cost_change_floor }}
       or category_volatility.volatility >= {{ cost_change_floor }}
)

select * from supplier_items
union all
select * from inventory_items
union all
select * from logistics_items
union all
select * from market_items
