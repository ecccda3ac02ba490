-- Sales order lines that count as revenue at the merchant's as_of: ordered on or before as_of
-- and not cancelled by then (a cancellation after as_of is later data, so it is ignored).
-- revenue is the net line amount after discounts; cost is what the allocated batches cost.

with merchants as (
    select merchant_id, as_of
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

orders as (
    select
        orders.order_id,
        orders.order_no,
        orders.merchant_id,
        orders.customer_id,
        orders.warehouse_id,
        orders.ordered_date
    from {{ ref('stg_postgres__orders') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date <= merchants.as_of
      and (orders.cancelled_date is null or orders.cancelled_date > merchants.as_of)
),

lines as (
    select
        order_line_id,
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        line_amount
    from {{ ref('stg_postgres__order_lines') }}
),

-- Cost of goods sold uses each batch's own cost (FEFO reserved exactly these batches).
allocation_costs as (
    select
        allocations.order_line_id,
        sum(allocations.allocated_quantity * batches.unit_cost) as allocated_cost
    from {{ ref('stg_postgres__order_allocations') }} as allocations
    inner join {{ ref('stg_postgres__batches') }} as batches on batches.batch_id = allocations.batch_id
    group by allocations.order_line_id
),

products as (
    select product_id, unit_cost
    from {{ ref('stg_postgres__products') }}
)

select
    lines.order_line_id,
    orders.order_id,
    orders.order_no,
    orders.merchant_id,
    orders.customer_id,
    orders.warehouse_id,
    lines.product_id,
    lines.line_no,
    orders.ordered_date,
    lines.quantity,
    lines.unit_price,
    lines.discount_amount,
    cast(lines.line_amount as decimal(18, 2)) as revenue,
    -- Lines without allocations (history imported without batches) fall back to the product's
    -- current unit cost, flagged, rather than showing a 100% margin.
    cast(
        coalesce(allocation_costs.allocated_cost, lines.quantity * products.unit_cost) as decimal(18, 2)
    ) as cost,
    allocation_costs.order_line_id is null as is_cost_estimated
from lines
inner join orders on orders.order_id = lines.order_id
left join allocation_costs on allocation_costs.order_line_id = lines.order_line_id
left join products on products.product_id = lines.product_id
