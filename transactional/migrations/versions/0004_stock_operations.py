"""Stock operations: freeze, transfer, stocktake, write-off, return to stock, FIFO/FEFO per SKU.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

# Frozen units (库存冻结: quality hold, dispute, recall) stay on hand but cannot be sold, so the
# one stock CHECK becomes reserved + frozen <= on_hand. Every new operation is a movement type
# whose shape (which deltas move, in which direction, which reference it needs) is a CHECK, so a
# raw INSERT cannot disguise a receipt as a stocktake or create stock out of a transfer.
UPGRADE = """
ALTER TABLE core.products
    ADD COLUMN issue_policy text NOT NULL DEFAULT 'FEFO' CHECK (issue_policy IN ('FEFO', 'FIFO'));

ALTER TABLE core.stock
    ADD COLUMN frozen integer NOT NULL DEFAULT 0 CHECK (frozen >= 0),
    DROP CONSTRAINT stock_reserved_within_on_hand,
    ADD CONSTRAINT stock_reserved_within_on_hand CHECK (reserved + frozen <= on_hand);

CREATE TABLE core.stock_transfers (
    transfer_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id         bigint NOT NULL,
    product_id          bigint NOT NULL,
    from_warehouse_id   bigint NOT NULL,
    to_warehouse_id     bigint NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    note                text,
    transferred_at      timestamptz NOT NULL,
    UNIQUE (transfer_id, merchant_id),
    CHECK (from_warehouse_id <> to_warehouse_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id),
    FOREIGN KEY (from_warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id),
    FOREIGN KEY (to_warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id)
);

CREATE TABLE core.stocktakes (
    stocktake_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    warehouse_id    bigint NOT NULL,
    counted_at      timestamptz NOT NULL,
    note            text,
    UNIQUE (stocktake_id, warehouse_id, merchant_id),
    FOREIGN KEY (warehouse_id, merchant_id) REFERENCES core.warehouses (warehouse_id, merchant_id)
);

-- One counted batch; system_quantity is what the ledger said at the count, so the adjustment
-- (counted - system) can be audited after later movements have changed on-hand again.
CREATE TABLE core.stocktake_lines (
    stocktake_id        bigint NOT NULL,
    batch_id            bigint NOT NULL,
    warehouse_id        bigint NOT NULL,
    merchant_id         bigint NOT NULL,
    system_quantity     integer NOT NULL CHECK (system_quantity >= 0),
    counted_quantity    integer NOT NULL CHECK (counted_quantity >= 0),
    PRIMARY KEY (stocktake_id, batch_id),
    UNIQUE (stocktake_id, batch_id, warehouse_id),
    FOREIGN KEY (stocktake_id, warehouse_id, merchant_id)
        REFERENCES core.stocktakes (stocktake_id, warehouse_id, merchant_id),
    FOREIGN KEY (warehouse_id, batch_id) REFERENCES core.stock (warehouse_id, batch_id)
);

ALTER TABLE core.stock_movements
    ADD COLUMN frozen_delta integer NOT NULL DEFAULT 0,
    ADD COLUMN reason text,
    ADD COLUMN transfer_id bigint,
    ADD COLUMN stocktake_id bigint,
    DROP CONSTRAINT stock_movements_movement_type_check,
    DROP CONSTRAINT stock_movements_check,
    ADD CONSTRAINT stock_movements_movement_type_check CHECK (movement_type IN (
        'receipt', 'reserve', 'release', 'ship', 'adjust', 'freeze', 'unfreeze', 'transfer_out', 'transfer_in',
        'stocktake', 'write_off', 'expire', 'return')),
    ADD CONSTRAINT stock_movements_some_delta CHECK (on_hand_delta <> 0 OR reserved_delta <> 0 OR frozen_delta <> 0),
    ADD CONSTRAINT stock_movements_shape CHECK (CASE movement_type
        WHEN 'receipt' THEN frozen_delta = 0
        WHEN 'reserve' THEN frozen_delta = 0
        WHEN 'release' THEN frozen_delta = 0
        WHEN 'ship' THEN frozen_delta = 0
        WHEN 'adjust' THEN frozen_delta = 0
        WHEN 'freeze' THEN on_hand_delta = 0 AND reserved_delta = 0 AND frozen_delta > 0
        WHEN 'unfreeze' THEN on_hand_delta = 0 AND reserved_delta = 0 AND frozen_delta < 0
        WHEN 'transfer_out' THEN on_hand_delta < 0 AND reserved_delta = 0 AND frozen_delta = 0
        WHEN 'transfer_in' THEN on_hand_delta > 0 AND reserved_delta = 0 AND frozen_delta = 0
        WHEN 'stocktake' THEN on_hand_delta <> 0 AND reserved_delta = 0 AND frozen_delta = 0
        -- a write-off may take units that were frozen (a quality hold ending in disposal)
        WHEN 'write_off' THEN on_hand_delta < 0 AND reserved_delta = 0 AND frozen_delta BETWEEN on_hand_delta AND 0
        WHEN 'expire' THEN on_hand_delta < 0 AND reserved_delta = 0 AND frozen_delta BETWEEN on_hand_delta AND 0
        WHEN 'return' THEN on_hand_delta > 0 AND reserved_delta = 0 AND frozen_delta = 0
        ELSE true END),
    ADD CONSTRAINT stock_movements_reason_given CHECK (
        movement_type NOT IN ('freeze', 'unfreeze', 'write_off') OR coalesce(length(btrim(reason)), 0) > 0),
    ADD CONSTRAINT stock_movements_transfer_reference CHECK (
        (movement_type IN ('transfer_out', 'transfer_in')) = (transfer_id IS NOT NULL)),
    ADD CONSTRAINT stock_movements_stocktake_reference CHECK (
        (movement_type = 'stocktake') = (stocktake_id IS NOT NULL)),
    ADD CONSTRAINT stock_movements_return_reference CHECK (movement_type <> 'return' OR order_id IS NOT NULL),
    ADD FOREIGN KEY (transfer_id, merchant_id) REFERENCES core.stock_transfers (transfer_id, merchant_id),
    ADD FOREIGN KEY (stocktake_id, batch_id, warehouse_id)
        REFERENCES core.stocktake_lines (stocktake_id, batch_id, warehouse_id);
CREATE INDEX stock_movements_transfer_idx ON core.stock_movements (transfer_id) WHERE transfer_id IS NOT NULL;

-- A stock row that does not exist yet (first receipt of a batch, or a batch arriving in another
-- warehouse) is created empty and then updated, so the CHECKs judge the resulting row, and two
-- transactions creating the same row queue on it instead of one failing on the primary key.
CREATE OR REPLACE FUNCTION core.apply_stock_movement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core.stock
       SET on_hand = on_hand + NEW.on_hand_delta,
           reserved = reserved + NEW.reserved_delta,
           frozen = frozen + NEW.frozen_delta,
           updated_at = greatest(updated_at, NEW.occurred_at)
     WHERE warehouse_id = NEW.warehouse_id AND batch_id = NEW.batch_id;
    IF NOT FOUND THEN
        INSERT INTO core.stock (warehouse_id, batch_id, product_id, merchant_id, on_hand, reserved, frozen, updated_at)
        VALUES (NEW.warehouse_id, NEW.batch_id, NEW.product_id, NEW.merchant_id, 0, 0, 0, NEW.occurred_at)
        ON CONFLICT (warehouse_id, batch_id) DO NOTHING;
        UPDATE core.stock
           SET on_hand = on_hand + NEW.on_hand_delta,
               reserved = reserved + NEW.reserved_delta,
               frozen = frozen + NEW.frozen_delta,
               updated_at = greatest(updated_at, NEW.occurred_at)
         WHERE warehouse_id = NEW.warehouse_id AND batch_id = NEW.batch_id;
    END IF;
    RETURN NEW;
END $$;

-- A return puts back units an order took from that batch, never more than it shipped. The
-- order row is locked so two concurrent returns of one order are judged one after the other.
CREATE FUNCTION core.check_return_within_shipped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    shipped integer;
    returned integer;
BEGIN
    PERFORM 1 FROM core.orders WHERE order_id = NEW.order_id FOR NO KEY UPDATE;
    SELECT coalesce(sum(-on_hand_delta) FILTER (WHERE movement_type = 'ship'), 0),
           coalesce(sum(on_hand_delta) FILTER (WHERE movement_type = 'return'), 0)
      INTO shipped, returned
      FROM core.stock_movements
     WHERE order_id = NEW.order_id AND batch_id = NEW.batch_id;
    IF returned + NEW.on_hand_delta > shipped THEN
        RAISE EXCEPTION 'return of % units of batch % exceeds what order % shipped from it (% shipped, % returned)',
            NEW.on_hand_delta, NEW.batch_id, NEW.order_id, shipped, returned
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER stock_movements_return_within_shipped
    BEFORE INSERT ON core.stock_movements
    FOR EACH ROW WHEN (NEW.movement_type = 'return' AND NEW.order_id IS NOT NULL)
    EXECUTE FUNCTION core.check_return_within_shipped();

-- A transfer conserves stock: at commit, every batch it moved left the source warehouse in the
-- quantity it arrived at the destination, and the batches add up to the transfer's quantity.
CREATE FUNCTION core.check_transfer_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    transfer core.stock_transfers;
BEGIN
    SELECT * INTO transfer FROM core.stock_transfers WHERE transfer_id = NEW.transfer_id;
    IF EXISTS (
        SELECT 1 FROM core.stock_movements
         WHERE transfer_id = NEW.transfer_id
           AND (product_id <> transfer.product_id
                OR NOT ((movement_type = 'transfer_out' AND warehouse_id = transfer.from_warehouse_id)
                     OR (movement_type = 'transfer_in' AND warehouse_id = transfer.to_warehouse_id)))
    ) OR EXISTS (
        SELECT 1 FROM core.stock_movements WHERE transfer_id = NEW.transfer_id
         GROUP BY batch_id HAVING sum(on_hand_delta) <> 0
    ) OR (
        SELECT coalesce(sum(on_hand_delta), 0) FROM core.stock_movements
         WHERE transfer_id = NEW.transfer_id AND movement_type = 'transfer_in'
    ) <> transfer.quantity THEN
        RAISE EXCEPTION 'transfer % does not balance: each batch must leave warehouse % as it arrives in '
                        'warehouse %, % units in all',
            transfer.transfer_id, transfer.from_warehouse_id, transfer.to_warehouse_id, transfer.quantity
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER stock_movements_transfer_balanced
    AFTER INSERT ON core.stock_movements DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.transfer_id IS NOT NULL) EXECUTE FUNCTION core.check_transfer_balanced();
"""

DOWNGRADE = """
DROP TRIGGER stock_movements_transfer_balanced ON core.stock_movements;
DROP TRIGGER stock_movements_return_within_shipped ON core.stock_movements;
DROP FUNCTION core.check_transfer_balanced(), core.check_return_within_shipped();

CREATE OR REPLACE FUNCTION core.apply_stock_movement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

ALTER TABLE core.stock_movements
    DROP CONSTRAINT stock_movements_movement_type_check,
    DROP CONSTRAINT stock_movements_some_delta,
    DROP CONSTRAINT stock_movements_shape,
    DROP CONSTRAINT stock_movements_reason_given,
    DROP CONSTRAINT stock_movements_transfer_reference,
    DROP CONSTRAINT stock_movements_stocktake_reference,
    DROP CONSTRAINT stock_movements_return_reference,
    DROP COLUMN frozen_delta,
    DROP COLUMN reason,
    DROP COLUMN transfer_id,
    DROP COLUMN stocktake_id,
    ADD CONSTRAINT stock_movements_movement_type_check CHECK (movement_type IN (
        'receipt', 'reserve', 'release', 'ship', 'adjust')),
    ADD CONSTRAINT stock_movements_check CHECK (on_hand_delta <> 0 OR reserved_delta <> 0);

DROP TABLE core.stocktake_lines, core.stocktakes, core.stock_transfers;

ALTER TABLE core.stock
    DROP CONSTRAINT stock_reserved_within_on_hand,
    DROP COLUMN frozen,
    ADD CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand);

ALTER TABLE core.products DROP COLUMN issue_policy;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
