"""Imported order history: amount-only orders and external order codes.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"

# Orders imported from another system are history, not trades: they never reserved or moved
# stock, so they may lack a warehouse; platform orders still need one. The other system's own
# order code is kept so a second import of the same file cannot create the order twice.
UPGRADE = """
ALTER TABLE core.orders
    ADD COLUMN source text NOT NULL DEFAULT 'platform',
    ADD COLUMN external_order_code text,
    ALTER COLUMN warehouse_id DROP NOT NULL,
    ADD CONSTRAINT orders_source_known CHECK (source IN ('platform', 'import')),
    ADD CONSTRAINT orders_warehouse_unless_imported CHECK (warehouse_id IS NOT NULL OR source = 'import'),
    ADD CONSTRAINT orders_external_order_code_not_blank
        CHECK (external_order_code IS NULL OR length(btrim(external_order_code)) > 0),
    ADD CONSTRAINT orders_external_order_code_unique UNIQUE (merchant_id, external_order_code);

-- Service levels of platform orders (imported history has no confirm or ship times to judge).
-- A clock stops when its step happens or the order is cancelled; a breach flag is NULL while
-- the clock still runs (compare the due time with your as-of time for those).
CREATE VIEW core.order_sla WITH (security_invoker = true) AS
SELECT o.order_id,
       o.merchant_id,
       o.status,
       o.ordered_at,
       o.confirmed_at,
       o.shipped_at,
       o.cancelled_at,
       fresh.has_fresh_goods,
       o.ordered_at + policy.confirm_within AS confirm_due_at,
       o.ordered_at + CASE WHEN fresh.has_fresh_goods THEN policy.fresh_ship_within ELSE policy.ship_within END
           AS ship_due_at,
       COALESCE(o.confirmed_at, o.cancelled_at) > o.ordered_at + policy.confirm_within AS confirm_breached,
       COALESCE(o.shipped_at, o.cancelled_at)
           > o.ordered_at + CASE WHEN fresh.has_fresh_goods THEN policy.fresh_ship_within ELSE policy.ship_within END
           AS ship_breached
FROM core.orders o
CROSS JOIN core.order_sla_policy policy
CROSS JOIN LATERAL (
    SELECT COALESCE(bool_or(r.is_fresh), false) AS has_fresh_goods
    FROM core.order_lines l
    JOIN core.products p ON p.product_id = l.product_id
    JOIN core.category_rules r ON r.category_id = p.category_id
    WHERE l.order_id = o.order_id
) fresh
WHERE o.source = 'platform';
"""

DOWNGRADE = """
DROP VIEW core.order_sla;
ALTER TABLE core.orders
    DROP CONSTRAINT orders_external_order_code_unique,
    DROP CONSTRAINT orders_external_order_code_not_blank,
    DROP CONSTRAINT orders_warehouse_unless_imported,
    DROP CONSTRAINT orders_source_known,
    ALTER COLUMN warehouse_id SET NOT NULL,
    DROP COLUMN external_order_code,
    DROP COLUMN source;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
