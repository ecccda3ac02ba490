"""The largest values a write may carry, shared by the HTTP API and the imports.

No rural co-op's trade comes near them, yet without them one mistyped value (ten million units at
a trillion yuan) passes every check, overflows PostgreSQL's NUMERIC(14, 2) (at most
999,999,999,999.99) or DuckDB's DECIMAL(18, 2) where the pipeline multiplies quantity by price,
and stops the nightly run for every merchant. With these limits a quantity times a unit price is
at most 10^12, a ten-thousandth of DECIMAL(18, 2)'s ceiling, and an order or purchase order,
whatever its number of lines, at most 10^9 (a thousandth of NUMERIC(14, 2)'s), checked on its
total, so sums of many of them stay in range too.
"""

from __future__ import annotations

from decimal import Decimal

# Units of a SKU's base unit in one line, receipt, count or transfer: 1,000 t of fertilizer in kg.
MAX_QUANTITY = 1_000_000
# CNY for one unit (a price, promotion price or unit cost): above a combine harvester's price, the
# dearest goods a co-op's farm-machinery counter sells.
MAX_UNIT_PRICE = Decimal("1000000.00")
# CNY of one order or purchase order (and so of any amount paid, refunded or discounted on it).
MAX_ORDER_AMOUNT = Decimal("1000000000.00")
