-- Purchase prices per merchant × SKU × supplier it was bought from (purchase orders placed up
-- to as_of, cancelled ones left out): last and average unit cost paid, the agreed cost of the
-- supplier agreement in force at as_of, and how far the last price is above the cheapest.
-- Within one merchant a SKU has so far always come from a single supplier, and sku_code is
-- only unique per merchant (the same code names different goods at different merchants), so
-- the comparison also looks across the network: the same product is the same name and spec
-- (规格), bought by any merchant from any supplier. Other merchants are not named; only the
-- cheapest supplier's name is shown, a supplier being a company that trades with many. The
-- network figures are shown only where enough merchants bought the product
-- (var network_price_min_merchants): between two, the network's cheapest price is the other
-- merchant's own cost.

{%- set window_days = var("supplier_performance_window_days") | int %}
{%- set min_merchants = var("network_price_min_merchants") | int %}

with merchants as (
    select
        merchant_id,
        merchant_code,
        as_of,
        {{ business_day_end('as_of') }} as as_of_end
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

purchase_lines as (
    select
        orders.merchant_id,
        lines.product_id,
        orders.supplier_id,
        orders.ordered_date,
        orders.ordered_at,
        lines.purchase_order_line_id,
        lines.quantity,
        lines.unit_cost,
        orders.ordered_date > merchants.as_of - {{ window_days }} as is_in_window
    from {{ ref('stg_postgres__purchase_order_lines') }} as lines
    inner join {{ ref('stg_postgres__purchase_orders') }} as orders
        on orders.purchase_order_id = lines.purchase_order_id
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date <= merchants.as_of
      and not (orders.purchase_order_status = 'cancelled' and orders.updated_date <= merchants.as_of)
      and orders.purchase_order_status <> 'draft'
),

paid as (
    select
        merchant_id,
        product_id,
        supplier_id,
        count(*) as purchase_lines,
        sum(quantity) as purchased_quantity,
        -- In double from the start (the averages are): DECIMAL(18) products overflowed on one absurd line.
        sum(cast(quantity as double) * unit_cost) / nullif(sum(quantity), 0) as avg_unit_cost,
        sum(cast(quantity as double) * unit_cost) filter (where is_in_window)
            / nullif(sum(quantity) filter (where is_in_window), 0) as window_avg_unit_cost,
        min(unit_cost) as min_unit_cost,
        max(unit_cost) as max_unit_cost,
        max_by(unit_cost, {{ ordering_key(['ordered_at', 'purchase_order_line_id']) }}) as last_unit_cost,
        max(ordered_date) as last_ordered_date
    from purchase_lines
    group by merchant_id, product_id, supplier_id
),

agreed as (
    select
        agreements.merchant_id,
        agreements.supplier_id,
        prices.product_id,
        max_by(prices.agreed_unit_cost, agreements.valid_from) as agreed_unit_cost
    from {{ ref('stg_postgres__supplier_agreement_prices') }} as prices
    inner join {{ ref('stg_postgres__supplier_agreements') }} as agreements
        on agreements.agreement_id = prices.agreement_id
    inner join merchants on merchants.merchant_id = agreements.merchant_id
    where agreements.valid_from < merchants.as_of_end
      and (agreements.valid_until is null or agreements.valid_until >= merchants.as_of_end)
    group by agreements.merchant_id, agreements.supplier_id, prices.product_id
),

priced as (
    select
        paid.*,
        products.sku_code,
        products.sku_name,
        products.spec,
        products.unit,
        suppliers.supplier_code,
        suppliers.supplier_name,
        agreed.agreed_unit_cost
    from paid
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = paid.product_id
    inner join {{ ref('stg_postgres__suppliers') }} as suppliers on suppliers.supplier_id = paid.supplier_id
    left join agreed
        on agreed.merchant_id = paid.merchant_id
        and agreed.supplier_id = paid.supplier_id
        and agreed.product_id = paid.product_id
),

network_buyers as (
    select
        sku_name,
        spec,
        unit,
        count(distinct merchant_id) as network_merchants
    from priced
    group by sku_name, spec, unit
),

compared as (
    select
        *,
        count(*) over (partition by merchant_id, product_id) as merchant_suppliers,
        min(last_unit_cost) over (partition by merchant_id, product_id) as merchant_min_last_unit_cost,
        count(*) over (partition by sku_name, spec, unit) as network_suppliers,
        min(last_unit_cost) over (partition by sku_name, spec, unit) as network_min_last_unit_cost,
        first_value(supplier_name) over (
            partition by sku_name, spec, unit order by last_unit_cost, supplier_name
        ) as network_cheapest_supplier_name
    from priced
),

shared as (
    select
        compared.*,
        network_buyers.network_merchants,
        network_buyers.network_merchants >= {{ min_merchants }} as is_network_shown
    from compared
    inner join network_buyers
        on network_buyers.sku_name = compared.sku_name
        and network_buyers.spec is not distinct from compared.spec
        and network_buyers.unit is not distinct from compared.unit
)

select
    compared.merchant_id,
    merchants.merchant_code,
    compared.product_id,
    compared.sku_code,
    compared.sku_name,
    compared.spec,
    compared.unit,
    compared.supplier_id,
    compared.supplier_code,
    compared.supplier_name,
    cast(compared.purchase_lines as integer) as purchase_lines,
    cast(compared.purchased_quantity as bigint) as purchased_quantity,
    compared.last_ordered_date,
    cast(compared.last_unit_cost as decimal(14, 2)) as last_unit_cost,
    {{ decimal_from_double('compared.avg_unit_cost', 14, 2) }} as avg_unit_cost,
    {{ decimal_from_double('compared.window_avg_unit_cost', 14, 2) }} as window_avg_unit_cost,
    cast(compared.min_unit_cost as decimal(14, 2)) as min_unit_cost,
    cast(compared.max_unit_cost as decimal(14, 2)) as max_unit_cost,
    cast(compared.agreed_unit_cost as decimal(14, 2)) as agreed_unit_cost,
    cast(compared.last_unit_cost - compared.agreed_unit_cost as decimal(14, 2)) as last_minus_agreed,
    cast(compared.merchant_suppliers as integer) as merchant_suppliers,
    cast(compared.last_unit_cost - compared.merchant_min_last_unit_cost as decimal(14, 2))
        as diff_from_merchant_cheapest,
    cast(compared.network_suppliers as integer) as network_suppliers,
    cast(compared.network_merchants as integer) as network_merchants,
    cast(case when compared.is_network_shown then compared.network_min_last_unit_cost end as decimal(14, 2))
        as network_min_last_unit_cost,
    case when compared.is_network_shown then compared.network_cheapest_supplier_name end
        as network_cheapest_supplier_name,
    cast(
        case when compared.is_network_shown then compared.last_unit_cost - compared.network_min_last_unit_cost end
        as decimal(14, 2)
    ) as diff_from_network_cheapest,
    case
        when compared.is_network_shown
            then cast(compared.last_unit_cost - compared.network_min_last_unit_cost as double)
            / nullif(compared.network_min_last_unit_cost, 0)
    end as pct_above_network_cheapest,
    merchants.as_of
from shared as compared
inner join merchants on merchants.merchant_id = compared.merchant_id
