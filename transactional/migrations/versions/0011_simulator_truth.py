"""More simulator ground truth: promotion effects, market prices and their injected shocks.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"

# Keyed by codes like the rest of schema sim, so the truth compares with any copy of the data.
UPGRADE = """
-- What a promotion did to demand: uplift while it ran (on top of the price effect), then dip
-- over dip_days as customers who stocked up bought less.
CREATE TABLE sim.promotion_effects (
    merchant_code   text NOT NULL,
    promotion_code  text NOT NULL,
    sku_code        text NOT NULL,
    starts_on       date NOT NULL,
    ends_on         date NOT NULL,
    percent_off     real NOT NULL,
    uplift          real NOT NULL CHECK (uplift > 0),
    dip             real NOT NULL CHECK (dip > 0),
    dip_days        integer NOT NULL CHECK (dip_days >= 0),
    PRIMARY KEY (merchant_code, promotion_code),
    CHECK (starts_on <= ends_on)
);

-- The market index each commodity category's costs follow (1 = its level on the first day).
CREATE TABLE sim.market_prices (
    category_code   text NOT NULL,
    date            date NOT NULL,
    price_index     real NOT NULL CHECK (price_index > 0),
    PRIMARY KEY (category_code, date)
);

-- Injected events an analytic should find: a lasting step in a market price (price_shock), or
-- a supplier delivering late for a while (supplier_disruption, subject = supplier code).
CREATE TABLE sim.anomalies (
    kind            text NOT NULL CHECK (kind IN ('price_shock', 'supplier_disruption')),
    merchant_code   text,
    subject         text NOT NULL,
    starts_on       date NOT NULL,
    ends_on         date NOT NULL,
    magnitude       real NOT NULL,
    CHECK (starts_on <= ends_on)
);
"""

DOWNGRADE = """
DROP TABLE sim.anomalies;
DROP TABLE sim.market_prices;
DROP TABLE sim.promotion_effects;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
