"""Statement-level triggers so bulk loads into the ledger and the orders stay fast.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"

# History is loaded with multi-row INSERT ... SELECT and COPY, millions of rows at a time; a
# plpgsql call per row made that the slowest part of a load. The two AFTER INSERT triggers that
# derive other tables now run once per statement over its transition table. What the database
# guarantees stays the same, with one change of grain: the CHECKs on core.stock judge the state
# each statement leaves, so a multi-row statement may pass through a negative point and still be
# accepted if it ends valid. The services write one movement per statement, so for them nothing
# changes; core.stock_history_violations finds such points in a bulk-loaded ledger.
UPGRADE = """
DROP TRIGGER stock_movements_apply ON core.stock_movements;
DROP FUNCTION core.apply_stock_movement();

-- Rows that do not exist yet are created empty first: an INSERT ... ON CONFLICT DO UPDATE would
-- test the CHECKs on the summed deltas alone (a reservation on its own has reserved > on_hand),
-- and ON CONFLICT lets two statements creating the same row queue instead of one failing. Rows
-- are created and locked in key order, so concurrent statements sharing several rows wait for one
-- another in one order rather than deadlock. The locks and the update run as the invoker, so row
-- security applies to them as it does to the movements.
CREATE FUNCTION core.apply_stock_movements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO core.stock (warehouse_id, batch_id, product_id, merchant_id, on_hand, reserved, frozen, updated_at)
    SELECT warehouse_id, batch_id, product_id, merchant_id, 0, 0, 0, min(occurred_at)
      FROM applied_movements
     GROUP BY warehouse_id, batch_id, product_id, merchant_id
     ORDER BY warehouse_id, batch_id
        ON CONFLICT (warehouse_id, batch_id) DO NOTHING;
    PERFORM FROM core.stock
     WHERE (warehouse_id, batch_id) IN (SELECT warehouse_id, batch_id FROM applied_movements)
     ORDER BY warehouse_id, batch_id
       FOR NO KEY UPDATE;
    UPDATE core.stock s
       SET on_hand = s.on_hand + d.on_hand_delta,
           reserved = s.reserved + d.reserved_delta,
           frozen = s.frozen + d.frozen_delta,
           updated_at = greatest(s.updated_at, d.last_occurred_at)
      FROM (SELECT warehouse_id, batch_id, sum(on_hand_delta) AS on_hand_delta,
                   sum(reserved_delta) AS reserved_delta, sum(frozen_delta) AS frozen_delta,
                   max(occurred_at) AS last_occurred_at
              FROM applied_movements
             GROUP BY warehouse_id, batch_id) d
     WHERE s.warehouse_id = d.warehouse_id AND s.batch_id = d.batch_id;
    RETURN NULL;
END $$;

CREATE TRIGGER stock_movements_apply
    AFTER INSERT ON core.stock_movements
    REFERENCING NEW TABLE AS applied_movements
    FOR EACH STATEMENT EXECUTE FUNCTION core.apply_stock_movements();

-- Every point of one merchant's ledger where the running levels of a stock row break a rule the
-- CHECKs on core.stock state; empty when the history is valid movement by movement. One sort and
-- one pass, so it suits a check after a bulk load of millions of movements.
CREATE FUNCTION core.stock_history_violations(p_merchant_id bigint)
    RETURNS TABLE (warehouse_id bigint, batch_id bigint, occurred_at timestamptz,
                   on_hand bigint, reserved bigint, frozen bigint)
    LANGUAGE sql STABLE AS $$
    SELECT running.warehouse_id, running.batch_id, running.occurred_at,
           running.on_hand, running.reserved, running.frozen
      FROM (SELECT m.warehouse_id, m.batch_id, m.occurred_at, m.movement_id,
                   sum(m.on_hand_delta) OVER ledger AS on_hand,
                   sum(m.reserved_delta) OVER ledger AS reserved,
                   sum(m.frozen_delta) OVER ledger AS frozen
              FROM core.stock_movements m
             WHERE m.merchant_id = p_merchant_id
            WINDOW ledger AS (PARTITION BY m.warehouse_id, m.batch_id ORDER BY m.occurred_at, m.movement_id
                              ROWS UNBOUNDED PRECEDING)) running
     WHERE running.on_hand < 0 OR running.reserved < 0 OR running.frozen < 0
        OR running.reserved + running.frozen > running.on_hand
     ORDER BY running.warehouse_id, running.batch_id, running.occurred_at, running.movement_id
$$;

-- An order is inserted with the path its times show: one event per stage whose time is set, in
-- lifecycle order, up to its status (a service inserts 'received', so one event; an imported or
-- simulated order may arrive delivered). The event of the status itself falls back to the order
-- time as the row trigger did. The actor and note name whoever made the statement, so every
-- event it records carries them; they are consumed only when something was recorded, as a row
-- trigger that never fired left them in place.
CREATE FUNCTION core.record_order_creations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_actor text := NULLIF(current_setting('coopcast.order_actor', true), '');
    event_note text := NULLIF(current_setting('coopcast.order_note', true), '');
    recorded bigint;
BEGIN
    WITH lifecycle (stage, ordinal) AS (
        SELECT * FROM unnest(ARRAY['received', 'reviewed', 'confirmed', 'picked', 'shipped', 'in_transit',
                                   'delivered', 'completed', 'cancelled']) WITH ORDINALITY
    )
    INSERT INTO core.order_events (order_id, merchant_id, from_status, to_status, occurred_at, actor, note)
    SELECT o.order_id, o.merchant_id,
           lag(step.stage) OVER (PARTITION BY o.order_id ORDER BY step.ordinal),
           step.stage,
           CASE WHEN step.stage = o.status THEN COALESCE(core.order_stage_at(o, o.status), o.ordered_at)
                ELSE core.order_stage_at(o, step.stage) END,
           event_actor, event_note
      FROM created_orders o
      JOIN lifecycle reached ON reached.stage = o.status
      JOIN lifecycle step ON step.ordinal <= reached.ordinal
     WHERE step.stage = o.status OR core.order_stage_at(o, step.stage) IS NOT NULL
     ORDER BY o.order_id, step.ordinal;
    GET DIAGNOSTICS recorded = ROW_COUNT;
    IF recorded > 0 THEN
        PERFORM set_config('coopcast.order_actor', '', true), set_config('coopcast.order_note', '', true);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER orders_record_creation ON core.orders;
CREATE TRIGGER orders_record_creation
    AFTER INSERT ON core.orders
    REFERENCING NEW TABLE AS created_orders
    FOR EACH STATEMENT EXECUTE FUNCTION core.record_order_creations();
"""

# The row-level functions as revisions 0004 and 0005 left them.
DOWNGRADE = """
DROP TRIGGER orders_record_creation ON core.orders;
DROP FUNCTION core.record_order_creations();
CREATE TRIGGER orders_record_creation
    AFTER INSERT ON core.orders
    FOR EACH ROW EXECUTE FUNCTION core.record_order_event();

DROP FUNCTION core.stock_history_violations(bigint);

DROP TRIGGER stock_movements_apply ON core.stock_movements;
DROP FUNCTION core.apply_stock_movements();
CREATE FUNCTION core.apply_stock_movement() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER stock_movements_apply
    AFTER INSERT ON core.stock_movements
    FOR EACH ROW EXECUTE FUNCTION core.apply_stock_movement();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
