-- The day each merchant × SKU entered trade: its first stock movement or first sale, whichever
-- came first (history imported without batches can sell before any stock is recorded). Weeks
-- before it are no demand signal, so XYZ leaves them out.

with first_stock as (
    select merchant_id, product_id, min(first_movement_date) as first_stock_date
    from {{ ref('int_stock_movements_as_of') }}
    group by merchant_id, product_id
),

first_sale as (
    select merchant_id, product_id, min(ordered_date) as first_sale_date
    from {{ ref('int_order_lines_enriched') }}
    group by merchant_id, product_id
)

select
    coalesce(first_stock.merchant_id, first_sale.merchant_id) as merchant_id,
    coalesce(first_stock.product_id, first_sale.product_id) as product_id,
    first_stock.first_stock_date,
    first_sale.first_sale_date,
    least(first_stock.first_stock_date, first_sale.first_sale_date) as launched_date
from first_stock
full outer join first_sale
    on first_sale.merchant_id = first_stock.merchant_id
    and first_sale.product_id = first_stock.product_id
