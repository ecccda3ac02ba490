"""Core trading schema: merchants, catalogue, stock by batch, movements, customers, orders, purchasing.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None

# The invariants live here, not in the services: stock never negative, reserved never above
# on-hand, on-hand always the sum of the movement ledger (a trigger applies each movement), the
# ledger append-only, and every row of a merchant pointing only at rows of the same merchant
# (composite foreign keys on (id, merchant_id)).
UPGRADE = """
CREATE TABLE core.merchants (
    merchant_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_code   text NOT NULL UNIQUE CHECK (merchant_code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name            text NOT NULL CHECK (length(btrim(name)) > 0),
    merchant_type   text NOT NULL DEFAULT 'retailer'
                    CHECK (merchant_type IN ('county_coop', 'grassroots_coop', 'wholesaler', 'retailer')),
    region          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE core.warehouses (
    warehouse_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    warehouse_code  text NOT NULL,
    name            text NOT NULL,
    region          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, warehouse_code),
    UNIQUE (warehouse_id, merchant_id)
);

-- A network-wide three-level tree; the generated parent_level makes the foreign key itself
-- require that a child sits exactly one level below its parent.
CREATE TABLE core.categories (
    category_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_code   text NOT NULL UNIQUE,
    name            text NOT NULL,
    name_en         text,
    level           smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    parent_id       bigint,
    parent_level    smallint GENERATED ALWAYS AS (level - 1) STORED,
    created_at      timestamptz NOT NULL,
    UNIQUE (category_id, level),
    CHECK ((level = 1) = (parent_id IS NULL)),
    FOREIGN KEY (parent_id, parent_level) REFERENCES core.categories (category_id, level)
);

CREATE TABLE core.suppliers (
    supplier_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    supplier_code   text NOT NULL,
    name            text NOT NULL,
    lead_time_days  integer NOT NULL CHECK (lead_time_days BETWEEN 0 AND 365),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, supplier_code),
    UNIQUE (supplier_id, merchant_id)
);

-- Products are sold only from leaf (level 3) categories: category_level is pinned to 3 and
-- joins the foreign key.
CREATE TABLE core.products (
    product_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES core.merchants,
    sku_code            text NOT NULL,
    name                text NOT NULL,
    spec                text,
    unit                text NOT NULL DEFAULT '件',
    category_id         bigint NOT NULL,
    category_level      smallint NOT NULL DEFAULT 3 CHECK (category_level = 3),
    supplier_id         bigint,
    shelf_life_days     integer CHECK (shelf_life_days > 0),
    unit_cost           numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    price               numeric(14, 2) NOT NULL CHECK (price >= 0),
    lead_time_days      integer NOT NULL CHECK (lead_time_days BETWEEN 0 AND 365),
    min_order_qty       integer NOT NULL DEFAULT 1 CHECK (min_order_qty >= 1),
    order_multiple      integer NOT NULL DEFAULT 1 CHECK (order_multiple >= 1),
    low_stock_threshold integer NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    is_active           boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (merchant_id, sku_code),
    UNIQUE (product_id, merchant_id),
    FOREIGN KEY (category_id, category_level) REFERENCES core.categories (category_id, level),
    FOREIGN KEY (supplier_id, merchant_id) REFERENCES core.suppliers (supplier_id, merchant_id)
);

CREATE TABLE core.customers (
    customer_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    customer_code   text NOT NULL,
    name            text NOT NULL,
    customer_type   text NOT NULL DEFAULT 'household'
                    CHECK (customer_type IN ('household', 'shop', 'canteen', 'farm', 'other')),
    region          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, customer_code),
    UNIQUE (customer_id, merchant_id)
);

CREATE SEQUENCE core.lot_no_seq;
CREATE TABLE core.batches (
    batch_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    lot_code        text NOT NULL,
    received_at     timestamptz NOT NULL,
    expiry_date     date,
    unit_cost       numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    supplier_id     bigint,
    created_at      timestamptz NOT NULL,
    UNIQUE (product_id, lot_code),
    UNIQUE (batch_id, product_id, merchant_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id),
    FOREIGN KEY (supplier_id, merchant_id) REFERENCES core.suppliers (supplier_id, merchant_id)
);

CREATE TABLE core.stock (
    warehouse_id    bigint NOT NULL,
    batch_id        bigint NOT NULL,
    product_id      bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    on_hand         integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved        integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (warehouse_id, batch_id),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand),
    FOREIGN KEY (warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id),
    FOREIGN KEY (batch_id, product_id, merchant_id)
        REFERENCES core.batches (batch_id, product_id, merchant_id)
);
CREATE INDEX stock_product_idx ON core.stock (product_id, warehouse_id);

CREATE SEQUENCE core.order_no_seq;
CREATE TABLE core.orders (
    order_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    order_no        text NOT NULL DEFAULT 'SO' || lpad(nextval('core.order_no_seq')::text, 10, '0'),
    customer_id     bigint NOT NULL,
    warehouse_id    bigint NOT NULL,
    status          text NOT NULL CHECK (status IN (
                        'received', 'reviewed', 'confirmed', 'picked', 'shipped',
                        'in_transit', 'delivered', 'completed', 'cancelled')),
    ordered_at      timestamptz NOT NULL,
    confirmed_at    timestamptz,
    shipped_at      timestamptz,
    cancelled_at    timestamptz,
    total_amount    numeric(14, 2) NOT NULL CHECK (total_amount >= 0),
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, order_no),
    UNIQUE (order_id, merchant_id),
    CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL),
    CHECK (status <> 'shipped' OR shipped_at IS NOT NULL),
    CHECK (shipped_at IS NULL OR cancelled_at IS NULL),
    FOREIGN KEY (customer_id, merchant_id) REFERENCES core.customers (customer_id, merchant_id),
    FOREIGN KEY (warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id)
);
CREATE INDEX orders_merchant_ordered_idx ON core.orders (merchant_id, ordered_at);

CREATE TABLE core.order_lines (
    order_line_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    line_no         integer NOT NULL CHECK (line_no >= 1),
    product_id      bigint NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_price      numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    discount_amount numeric(14, 2) NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    line_amount     numeric(14, 2) GENERATED ALWAYS AS (quantity * unit_price - discount_amount) STORED,
    UNIQUE (order_id, line_no),
    UNIQUE (order_line_id, merchant_id),
    CHECK (discount_amount <= quantity * unit_price),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);

-- Which batches a line's quantity was reserved from (FEFO), so shipping issues exactly those
-- units and cost of goods sold uses each batch's own cost.
CREATE TABLE core.order_allocations (
    order_line_id   bigint NOT NULL,
    warehouse_id    bigint NOT NULL,
    batch_id        bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_line_id, warehouse_id, batch_id),
    FOREIGN KEY (order_line_id, merchant_id) REFERENCES core.order_lines (order_line_id, merchant_id),
    FOREIGN KEY (warehouse_id, batch_id) REFERENCES core.stock (warehouse_id, batch_id)
);

CREATE SEQUENCE core.po_no_seq;
CREATE TABLE core.purchase_orders (
    purchase_order_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    po_no           text NOT NULL DEFAULT 'PO' || lpad(nextval('core.po_no_seq')::text, 10, '0'),
    supplier_id     bigint NOT NULL,
    warehouse_id    bigint NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'received', 'cancelled')),
    ordered_at      timestamptz NOT NULL,
    expected_at     timestamptz NOT NULL,
    received_at     timestamptz,
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, po_no),
    UNIQUE (purchase_order_id, merchant_id),
    CHECK (status <> 'received' OR received_at IS NOT NULL),
    FOREIGN KEY (supplier_id, merchant_id) REFERENCES core.suppliers (supplier_id, merchant_id),
    FOREIGN KEY (warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id)
);

CREATE TABLE core.purchase_order_lines (
    purchase_order_line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_order_id bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_cost       numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    received_quantity integer NOT NULL DEFAULT 0 CHECK (received_quantity >= 0),
    UNIQUE (purchase_order_id, product_id),
    FOREIGN KEY (purchase_order_id, merchant_id)
        REFERENCES core.purchase_orders (purchase_order_id, merchant_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);

CREATE TABLE core.stock_movements (
    movement_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    warehouse_id    bigint NOT NULL,
    batch_id        bigint NOT NULL,
    product_id      bigint NOT NULL,
    movement_type   text NOT NULL CHECK (movement_type IN (
                        'receipt', 'reserve', 'release', 'ship', 'adjust')),
    on_hand_delta   integer NOT NULL,
    reserved_delta  integer NOT NULL,
    order_id        bigint,
    purchase_order_id bigint,
    occurred_at     timestamptz NOT NULL,
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0),
    FOREIGN KEY (warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id),
    FOREIGN KEY (batch_id, product_id, merchant_id)
        REFERENCES core.batches (batch_id, product_id, merchant_id),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (purchase_order_id, merchant_id)
        REFERENCES core.purchase_orders (purchase_order_id, merchant_id)
);
CREATE INDEX stock_movements_order_idx ON core.stock_movements (order_id) WHERE order_id IS NOT NULL;

-- The ledger is the truth: a movement is applied to core.stock in the same statement, so the
-- CHECKs on core.stock refuse any movement that would oversell or over-reserve.
CREATE FUNCTION core.apply_stock_movement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- UPDATE first: an INSERT ... ON CONFLICT would test the CHECKs on the delta row itself.
    UPDATE core.stock
       SET on_hand = on_hand + NEW.on_hand_delta,
           reserved = reserved + NEW.reserved_delta,
           updated_at = greatest(updated_at, NEW.occurred_at)
     WHERE warehouse_id = NEW.warehouse_id AND batch_id = NEW.batch_id;
    IF NOT FOUND THEN
        INSERT INTO core.stock (warehouse_id, batch_id, product_id, merchant_id, on_hand, reserved, updated_at)
        VALUES (NEW.warehouse_id, NEW.batch_id, NEW.product_id, NEW.merchant_id,
                NEW.on_hand_delta, NEW.reserved_delta, NEW.occurred_at);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER stock_movements_apply
    AFTER INSERT ON core.stock_movements
    FOR EACH ROW EXECUTE FUNCTION core.apply_stock_movement();

CREATE FUNCTION core.refuse_ledger_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'core.stock_movements is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER stock_movements_append_only
    BEFORE UPDATE OR DELETE ON core.stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_ledger_rewrite();
CREATE TRIGGER stock_movements_no_truncate
    BEFORE TRUNCATE ON core.stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_ledger_rewrite();

-- core.stock changes only through the ledger's trigger (a nested trigger, hence depth 2).
CREATE FUNCTION core.refuse_direct_stock_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'core.stock is derived from core.stock_movements: write a movement instead'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN COALESCE(NEW, OLD);
END $$;

CREATE TRIGGER stock_only_via_ledger
    BEFORE INSERT OR UPDATE OR DELETE ON core.stock
    FOR EACH ROW EXECUTE FUNCTION core.refuse_direct_stock_write();
"""

DOWNGRADE = """
DROP TABLE core.stock_movements, core.purchase_order_lines, core.purchase_orders,
    core.order_allocations, core.order_lines, core.orders, core.stock, core.batches,
    core.customers, core.products, core.suppliers, core.categories, core.warehouses,
    core.merchants;
DROP SEQUENCE core.order_no_seq, core.po_no_seq, core.lot_no_seq;
DROP FUNCTION core.apply_stock_movement(), core.refuse_ledger_rewrite(),
    core.refuse_direct_stock_write();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
