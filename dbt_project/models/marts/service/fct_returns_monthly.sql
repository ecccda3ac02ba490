-- After-sales returns per merchant × month × category (each of the three levels) × return
-- reason (no_reason 7天无理由 | quality_defect | 'all' for the totals row, present even in a
-- month without returns). Returns are dated by the day they were requested, sales by order
-- date (revenue rule: lines of orders not cancelled by as_of), so a month's rate compares the
-- month's returns with the month's sales. A return rejected by as_of does not count; one still
-- requested or approved does (the customer has asked for the money back).

with merchants as (
    select
        merchant_id,
        merchant_code,
        as_of,
        {{ business_day_end('as_of') }} as as_of_end
    from {{ ref('int_merchants_as_of') }}
    where as_of is not null
),

product_categories as (
    select
        products.product_id,
        categories.category_l1_id,
        categories.category_l2_id,
        categories.category_l3_id
    from {{ ref('stg_postgres__products') }} as products
    inner join {{ ref('int_categories_flattened') }} as categories on categories.category_id = products.category_id
),

sold as (
    select
        lines.merchant_id,
        cast(date_trunc('month', lines.ordered_date) as date) as month_start,
        {{ unnest_values([
            'product_categories.category_l1_id',
            'product_categories.category_l2_id',
            'product_categories.category_l3_id'
        ]) }} as category_id,
        lines.quantity,
        lines.revenue
    from {{ ref('int_order_lines_enriched') }} as lines
    inner join product_categories on product_categories.product_id = lines.product_id
),

sold_monthly as (
    select
        merchant_id,
        month_start,
        category_id,
        sum(quantity) as sold_quantity,
        sum(revenue) as revenue
    from sold
    where category_id is not null
    group by merchant_id, month_start, category_id
),

returns as (
    select
        returns.return_id,
        returns.merchant_id,
        returns.reason as return_reason,
        cast(date_trunc('month', returns.requested_date) as date) as month_start,
        returns.refunded_at is not null and returns.refunded_at < merchants.as_of_end as is_refunded
    from {{ ref('stg_postgres__returns') }} as returns
    inner join merchants on merchants.merchant_id = returns.merchant_id
    where returns.requested_date <= merchants.as_of
      and (returns.rejected_at is null or returns.rejected_at >= merchants.as_of_end)
),

-- A returned unit is worth what the customer paid for it: the line's net amount per unit.
returned as (
    select
        returns.merchant_id,
        returns.month_start,
        returns.return_reason,
        returns.return_id,
        {{ unnest_values([
            'product_categories.category_l1_id',
            'product_categories.category_l2_id',
            'product_categories.category_l3_id'
        ]) }} as category_id,
        return_lines.quantity,
        cast(return_lines.quantity * order_lines.line_amount as double) / nullif(order_lines.quantity, 0) as return_value,
        case when returns.is_refunded then return_lines.refund_amount else 0 end as refunded_amount
    from {{ ref('stg_postgres__return_lines') }} as return_lines
    inner join returns on returns.return_id = return_lines.return_id
    inner join {{ ref('stg_postgres__order_lines') }} as order_lines
        on order_lines.order_line_id = return_lines.order_line_id
    inner join product_categories on product_categories.product_id = order_lines.product_id
),

returned_by_reason as (
    select
        merchant_id,
        month_start,
        category_id,
        return_reason,
        count(distinct return_id) as returns,
        sum(quantity) as returned_quantity,
        sum(return_value) as return_value,
        sum(refunded_amount) as refunded_amount
    from returned
    where category_id is not null
    group by merchant_id, month_start, category_id, return_reason
),

returned_totals as (
    select
        merchant_id,
        month_start,
        category_id,
        'all' as return_reason,
        sum(returns) as returns,
        sum(returned_quantity) as returned_quantity,
        sum(return_value) as return_value,
        sum(refunded_amount) as refunded_amount
    from returned_by_reason
    group by merchant_id, month_start, category_id
),

-- Every merchant × month × category with sales or returns gets its totals row.
cells as (
    select merchant_id, month_start, category_id from sold_monthly
    union
    select merchant_id, month_start, category_id from returned_by_reason
),

combined as (
    select
        cells.merchant_id,
        cells.month_start,
        cells.category_id,
        'all' as return_reason,
        coalesce(returned_totals.returns, 0) as returns,
        coalesce(returned_totals.returned_quantity, 0) as returned_quantity,
        coalesce(returned_totals.return_value, 0) as return_value,
        coalesce(returned_totals.refunded_amount, 0) as refunded_amount
    from cells
    left join returned_totals
        on returned_totals.merchant_id = cells.merchant_id
        and returned_totals.month_start = cells.month_start
        and returned_totals.category_id = cells.category_id
    union all
    select * from returned_by_reason
)

select
    combined.merchant_id,
    merchants.merchant_code,
    combined.month_start as return_month,
    combined.category_id,
    categories.category_code,
    categories.category_name,
    categories.category_level,
    combined.return_reason,
    cast(combined.returns as integer) as returns,
    cast(combined.returned_quantity as bigint) as returned_quantity,
    cast(coalesce(sold_monthly.sold_quantity, 0) as bigint) as sold_quantity,
    cast(combined.return_value as decimal(18, 2)) as return_value,
    cast(combined.refunded_amount as decimal(18, 2)) as refunded_amount,
    cast(coalesce(sold_monthly.revenue, 0) as decimal(18, 2)) as revenue,
    cast(combined.returned_quantity / nullif(sold_monthly.sold_quantity, 0) as double) as return_quantity_rate,
    cast(cast(combined.return_value as double) / nullif(sold_monthly.revenue, 0) as double) as return_value_rate,
    merchants.as_of
from combined
left join sold_monthly
    on sold_monthly.merchant_id = combined.merchant_id
    and sold_monthly.month_start = combined.month_start
    and sold_monthly.category_id = combined.category_id
inner join merchants on merchants.merchant_id = combined.merchant_id
inner join {{ ref('stg_postgres__categories') }} as categories on categories.category_id = combined.category_id
