-- Cancellations per merchant × month of order placement × category (each of the three levels)
-- × cancellation reason × who cancelled × the status the order was cancelled from, over
-- orders placed up to as_of and cancelled by then. The reason is the note recorded with the
-- cancellation (the API's reason field), 'unspecified' when none was given; who cancelled is
-- the event's actor (the API key prefix), 'unknown' when none was recorded (the simulator
-- records neither). Each merchant × month × category also has a row with reason, actor and
-- stage 'all': its totals, present even when nothing was cancelled, so the rate of a category
-- without cancellations reads 0, not missing. An order counts in a category when any of its
-- lines is in it.

with merchants as (
    select
        merchant_id,
        merchant_code,
        as_of,
        {{ business_day_end('as_of') }} as as_of_end
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

orders as (
    select
        orders.order_id,
        orders.merchant_id,
        cast(date_trunc('month', orders.ordered_date) as date) as order_month,
        orders.cancelled_at is not null and orders.cancelled_at < merchants.as_of_end as is_cancelled
    from {{ ref('stg_postgres__orders') }} as orders
    inner join merchants on merchants.merchant_id = orders.merchant_id
    where orders.ordered_date <= merchants.as_of
),

-- The last move into cancelled is the cancellation (an order is cancelled at most once).
cancellations as (
    select
        order_id,
        coalesce(nullif(trim(note), ''), 'unspecified') as cancel_reason,
        coalesce(nullif(trim(actor), ''), 'unknown') as cancelled_by,
        from_status as cancelled_stage
    from (
        select
            *,
            row_number() over (partition by order_id order by occurred_at desc, order_event_id desc) as recency
        from {{ ref('stg_postgres__order_events') }}
        where to_status = 'cancelled'
    ) as cancelled_events
    where recency = 1
),

lines as (
    select
        lines.order_id,
        lines.order_line_id,
        lines.line_amount,
        categories.category_l1_id,
        categories.category_l2_id,
        categories.category_l3_id
    from {{ ref('stg_postgres__order_lines') }} as lines
    inner join {{ ref('stg_postgres__products') }} as products on products.product_id = lines.product_id
    inner join {{ ref('int_categories_flattened') }} as categories on categories.category_id = products.category_id
),

category_lines as (
    select
        orders.merchant_id,
        orders.order_month,
        orders.order_id,
        orders.is_cancelled,
        lines.order_line_id,
        lines.line_amount,
        {{ unnest_values(['lines.category_l1_id', 'lines.category_l2_id', 'lines.category_l3_id']) }} as category_id
    from lines
    inner join orders on orders.order_id = lines.order_id
),

-- One row per order × category first, so the counts below need no count(distinct).
order_categories as (
    select
        category_lines.merchant_id,
        category_lines.order_month,
        category_lines.category_id,
        category_lines.order_id,
        category_lines.is_cancelled,
        coalesce(cancellations.cancel_reason, 'unspecified') as cancel_reason,
        coalesce(cancellations.cancelled_by, 'unknown') as cancelled_by,
        coalesce(cancellations.cancelled_stage, 'unknown') as cancelled_stage,
        count(*) as lines,
        sum(category_lines.line_amount) as amount
    from category_lines
    left join cancellations on cancellations.order_id = category_lines.order_id
    where category_lines.category_id is not null
    group by all
),

placed as (
    select
        merchant_id,
        order_month,
        category_id,
        count(*) as orders_placed,
        sum(lines) as lines_placed
    from order_categories
    group by merchant_id, order_month, category_id
),

by_reason as (
    select
        merchant_id,
        order_month,
        category_id,
        cancel_reason,
        cancelled_by,
        cancelled_stage,
        count(*) as orders_cancelled,
        sum(lines) as lines_cancelled,
        sum(amount) as amount_cancelled
    from order_categories
    where is_cancelled
    group by merchant_id, order_month, category_id, cancel_reason, cancelled_by, cancelled_stage
),

totals as (
    select
        merchant_id,
        order_month,
        category_id,
        'all' as cancel_reason,
        'all' as cancelled_by,
        'all' as cancelled_stage,
        count(*) filter (where is_cancelled) as orders_cancelled,
        coalesce(sum(lines) filter (where is_cancelled), 0) as lines_cancelled,
        coalesce(sum(amount) filter (where is_cancelled), 0) as amount_cancelled
    from order_categories
    group by merchant_id, order_month, category_id
),

combined as (
    select * from by_reason
    union all
    select * from totals
)

select
    combined.merchant_id,
    merchants.merchant_code,
    combined.order_month,
    combined.category_id,
    categories.category_code,
    categories.category_name,
    categories.category_level,
    combined.cancel_reason,
    combined.cancelled_by,
    combined.cancelled_stage,
    cast(placed.orders_placed as integer) as orders_placed,
    cast(placed.lines_placed as integer) as lines_placed,
    cast(combined.orders_cancelled as integer) as orders_cancelled,
    cast(combined.lines_cancelled as integer) as lines_cancelled,
    cast(combined.amount_cancelled as decimal(18, 2)) as amount_cancelled,
    cast(combined.orders_cancelled / placed.orders_placed as double) as order_cancel_rate,
    cast(combined.lines_cancelled / placed.lines_placed as double) as line_cancel_rate,
    merchants.as_of
from combined
inner join placed
    on placed.merchant_id = combined.merchant_id
    and placed.order_month = combined.order_month
    and placed.category_id = combined.category_id
inner join merchants on merchants.merchant_id = combined.merchant_id
inner join {{ ref('stg_postgres__categories') }} as categories on categories.category_id = combined.category_id
