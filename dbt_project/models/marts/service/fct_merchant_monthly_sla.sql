-- Service levels per merchant × month of order placement: orders and their confirm, ship and
-- fresh-ship breaches as fct_order_sla judges them at as_of (open orders past their limit
-- included). Rates are over the orders placed; the fresh rate over orders with fresh goods.

{{ merchant_sla_summary("cast(date_trunc('month', ordered_date) as date)", 'sla_month') }}
