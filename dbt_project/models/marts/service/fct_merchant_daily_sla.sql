-- Service levels per merchant × business day of order placement: orders and their confirm, ship and
-- fresh-ship breaches as fct_order_sla judges them at as_of (open orders past their limit
-- included). Rates are over the orders placed; the fresh rate over orders with fresh goods.

{{ merchant_sla_summary("ordered_date", 'sla_date') }}
