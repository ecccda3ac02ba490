"""Money: payments and credit terms, commission by category, a double-entry journal in integer
cents, settlement statements with T+1/T+3 payouts, and the reconciliation that proves them.

- `rounding`: the rounding rules (written down there, enforced by PostgreSQL);
- `journal`: the chart of accounts and the entries each event posts;
- `commission`: rates by category with history; `payments`: money in, open receivables;
- `sales`: settling orders and refunding them; `settlements`: statements and payouts;
- `calendar`: Chinese working days; `periods`: daily, weekly and monthly periods;
- `reconciliation`: journal versus orders, refunds, commission and payouts, to the cent.
"""
