"""Schema sim: the simulator's ground truth (what it meant to happen), for evaluation only.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"

# Rows are keyed by the codes users know, not by core ids, so the ground truth can be compared
# with any copy of the data (raw, marts, exports). Nothing in core may depend on these tables.
UPGRADE = """
CREATE SCHEMA IF NOT EXISTS sim;

CREATE TABLE sim.runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scale           text NOT NULL,
    seed            bigint NOT NULL,
    first_date      date NOT NULL,
    last_date       date NOT NULL,
    merchant_codes  text[] NOT NULL,
    CHECK (first_date <= last_date)
);

-- stopped_selling_on: from this date on the SKU's true demand is zero (stock is left behind).
CREATE TABLE sim.sku_lifecycle (
    merchant_code       text NOT NULL,
    sku_code            text NOT NULL,
    launched_on         date NOT NULL,
    stopped_selling_on  date,
    season_profile      text NOT NULL,
    trend_per_year      real NOT NULL,
    popularity          real NOT NULL,
    PRIMARY KEY (merchant_code, sku_code),
    CHECK (stopped_selling_on IS NULL OR stopped_selling_on > launched_on)
);

-- churned_on: from this date on the customer buys nothing; the purchase rate falls linearly
-- over decline_days before it.
CREATE TABLE sim.customer_lifecycle (
    merchant_code   text NOT NULL,
    customer_code   text NOT NULL,
    customer_type   text NOT NULL,
    joined_on       date NOT NULL,
    churned_on      date,
    decline_days    integer NOT NULL CHECK (decline_days >= 0),
    activity        real NOT NULL CHECK (activity > 0),
    PRIMARY KEY (merchant_code, customer_code),
    CHECK (churned_on IS NULL OR churned_on > joined_on)
);

-- One row per SKU and business date while the SKU is on sale (or had demand): expected is the
-- mean of the demand process, demand what customers asked for; demand = sold + lost + cancelled
-- (lost: refused for lack of sellable stock; cancelled: in orders cancelled before shipment).
CREATE TABLE sim.daily_demand (
    merchant_code   text NOT NULL,
    sku_code        text NOT NULL,
    date            date NOT NULL,
    expected        real NOT NULL CHECK (expected >= 0),
    demand          integer NOT NULL CHECK (demand >= 0),
    sold            integer NOT NULL CHECK (sold >= 0),
    lost            integer NOT NULL CHECK (lost >= 0),
    cancelled       integer NOT NULL CHECK (cancelled >= 0),
    PRIMARY KEY (merchant_code, sku_code, date),
    CHECK (demand = sold + lost + cancelled)
);
"""

DOWNGRADE = """
DROP TABLE sim.daily_demand, sim.customer_lifecycle, sim.sku_lifecycle, sim.runs;
DROP SCHEMA sim;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
