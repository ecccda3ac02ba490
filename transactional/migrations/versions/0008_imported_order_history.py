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
"""

DOWNGRADE = """
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
