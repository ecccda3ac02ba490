"""Order lifecycle events, credit review, after-sales returns, promotions and coupons.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

# What the database itself guarantees here, whatever writes to it:
# - an order moves only along core.order_transitions; each step's time is written once, by the
#   move to that step, and never lies before an earlier step; every move is one append-only row
#   of core.order_events, written by a trigger (so a raw UPDATE is logged too);
# - a line is never returned beyond what was shipped (order_lines.returned_quantity, kept by
#   the return triggers) nor refunded beyond its net amount;
# - a flash sale never sells beyond its cap; a coupon is used at most once per order, within its
#   validity, per-customer and total limits, and a new-customer coupon only on a first order.
# Pricing rules that depend on configurable numbers (return windows, thresholds) are checked by
# the services in transactional/orders.py, promotions.py and returns.py.
UPGRADE = """
-- Category rules flow down the tree: a leaf is fresh when it or an ancestor is flagged fresh, and
-- takes no-reason returns only when it and every ancestor allow them.
ALTER TABLE core.categories
    ADD COLUMN is_fresh boolean NOT NULL DEFAULT false,
    ADD COLUMN no_reason_returns boolean NOT NULL DEFAULT true;

-- The platform's rule (DOMAIN): no 7-day no-reason returns for food and farm inputs.
CREATE FUNCTION core.default_category_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.level = 1 AND NEW.name IN ('食品', '农资') THEN
        NEW.no_reason_returns := false;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER categories_default_rules
    BEFORE INSERT ON core.categories
    FOR EACH ROW EXECUTE FUNCTION core.default_category_rules();
UPDATE core.categories SET no_reason_returns = false WHERE level = 1 AND name IN ('食品', '农资');

CREATE VIEW core.category_rules WITH (security_invoker = true) AS
SELECT c.category_id,
       c.is_fresh OR COALESCE(p.is_fresh, false) OR COALESCE(g.is_fresh, false) AS is_fresh,
       c.no_reason_returns AND COALESCE(p.no_reason_returns, true) AND COALESCE(g.no_reason_returns, true)
           AS no_reason_returns
FROM core.categories c
LEFT JOIN core.categories p ON p.category_id = c.parent_id
LEFT JOIN core.categories g ON g.category_id = p.parent_id;

-- NULL: the customer buys on credit not at all.
ALTER TABLE core.customers
    ADD COLUMN credit_limit numeric(14, 2) CONSTRAINT customers_credit_limit_not_negative CHECK (credit_limit >= 0);

ALTER TABLE core.orders
    ADD COLUMN reviewed_at timestamptz,
    ADD COLUMN picked_at timestamptz,
    ADD COLUMN in_transit_at timestamptz,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN completed_at timestamptz,
    ADD COLUMN payment_method text NOT NULL DEFAULT 'online'
        CONSTRAINT orders_payment_method_known CHECK (payment_method IN ('online', 'credit', 'prepaid', 'cod')),
    ADD COLUMN credit_term_days integer
        CONSTRAINT orders_credit_term_known CHECK (credit_term_days IN (7, 15, 30)),
    ADD CONSTRAINT orders_credit_term_iff_credit CHECK ((payment_method = 'credit') = (credit_term_days IS NOT NULL)),
    ADD CONSTRAINT orders_reviewed_in_order CHECK (reviewed_at >= ordered_at),
    ADD CONSTRAINT orders_confirmed_in_order CHECK (confirmed_at >= COALESCE(reviewed_at, ordered_at)),
    ADD CONSTRAINT orders_picked_in_order CHECK (picked_at >= COALESCE(confirmed_at, reviewed_at, ordered_at)),
    ADD CONSTRAINT orders_shipped_in_order
        CHECK (shipped_at >= COALESCE(picked_at, confirmed_at, reviewed_at, ordered_at)),
    ADD CONSTRAINT orders_in_transit_in_order
        CHECK (in_transit_at >= COALESCE(shipped_at, picked_at, confirmed_at, reviewed_at, ordered_at)),
    ADD CONSTRAINT orders_delivered_in_order
        CHECK (delivered_at >= COALESCE(in_transit_at, shipped_at, picked_at, confirmed_at, reviewed_at, ordered_at)),
    ADD CONSTRAINT orders_completed_in_order CHECK (
        completed_at >= COALESCE(delivered_at, in_transit_at, shipped_at, picked_at, confirmed_at, reviewed_at,
                                 ordered_at)),
    ADD CONSTRAINT orders_cancelled_in_order
        CHECK (cancelled_at >= COALESCE(picked_at, confirmed_at, reviewed_at, ordered_at));
CREATE INDEX orders_customer_idx ON core.orders (customer_id, ordered_at);

-- Kept by the return triggers only: what came back and what was refunded, per line.
ALTER TABLE core.order_lines
    ADD COLUMN returned_quantity integer NOT NULL DEFAULT 0,
    ADD COLUMN refunded_amount numeric(14, 2) NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_lines_returned_within_quantity CHECK (returned_quantity BETWEEN 0 AND quantity),
    ADD CONSTRAINT order_lines_refunded_within_net_amount
        CHECK (refunded_amount >= 0 AND refunded_amount <= quantity * unit_price - discount_amount);

CREATE FUNCTION core.refuse_direct_return_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'order line %: returned quantity and refunded amount follow core.return_lines',
            OLD.order_line_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER order_lines_return_totals_derived
    BEFORE UPDATE OF returned_quantity, refunded_amount ON core.order_lines
    FOR EACH ROW
    WHEN (OLD.returned_quantity IS DISTINCT FROM NEW.returned_quantity
          OR OLD.refunded_amount IS DISTINCT FROM NEW.refunded_amount)
    EXECUTE FUNCTION core.refuse_direct_return_totals();

-- The order lifecycle. Network-wide reference data: the moves an order may make.
CREATE TABLE core.order_transitions (
    from_status     text NOT NULL,
    to_status       text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO core.order_transitions (from_status, to_status) VALUES
    ('received', 'reviewed'), ('received', 'cancelled'),
    ('reviewed', 'confirmed'), ('reviewed', 'cancelled'),
    ('confirmed', 'picked'), ('confirmed', 'cancelled'),
    ('picked', 'shipped'), ('picked', 'cancelled'),
    ('shipped', 'in_transit'), ('shipped', 'delivered'),
    ('in_transit', 'delivered'),
    ('delivered', 'completed');

CREATE FUNCTION core.order_stage_at(o core.orders, stage text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE stage
        WHEN 'received' THEN o.ordered_at
        WHEN 'reviewed' THEN o.reviewed_at
        WHEN 'confirmed' THEN o.confirmed_at
        WHEN 'picked' THEN o.picked_at
        WHEN 'shipped' THEN o.shipped_at
        WHEN 'in_transit' THEN o.in_transit_at
        WHEN 'delivered' THEN o.delivered_at
        WHEN 'completed' THEN o.completed_at
        WHEN 'cancelled' THEN o.cancelled_at
    END $$;

CREATE TABLE core.order_events (
    order_event_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    from_status     text,
    to_status       text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    actor           text,
    note            text,
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id)
);
CREATE INDEX order_events_order_idx ON core.order_events (order_id, occurred_at);

-- Orders placed before this revision: their history as far as the order's own times tell it.
INSERT INTO core.order_events (order_id, merchant_id, from_status, to_status, occurred_at, note)
SELECT order_id, merchant_id, from_status, to_status, occurred_at, 'reconstructed from the order''s times'
FROM core.orders,
LATERAL (VALUES (NULL, 'received', ordered_at),
                ('received', 'confirmed', confirmed_at),
                ('confirmed', 'shipped', shipped_at),
                (CASE WHEN confirmed_at IS NULL THEN 'received' ELSE 'confirmed' END, 'cancelled', cancelled_at)
        ) AS step (from_status, to_status, occurred_at)
WHERE occurred_at IS NOT NULL;

CREATE FUNCTION core.guard_order_lifecycle() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stage text;
    reached_at timestamptz;
BEGIN
    IF NEW.ordered_at IS DISTINCT FROM OLD.ordered_at THEN
        RAISE EXCEPTION 'order %: the order time never changes', OLD.order_no USING ERRCODE = 'check_violation';
    END IF;
    FOREACH stage IN ARRAY ARRAY['reviewed', 'confirmed', 'picked', 'shipped', 'in_transit', 'delivered',
                                 'completed', 'cancelled'] LOOP
        IF core.order_stage_at(NEW, stage) IS DISTINCT FROM core.order_stage_at(OLD, stage)
           AND (core.order_stage_at(OLD, stage) IS NOT NULL OR NEW.status <> stage OR NEW.status = OLD.status) THEN
            RAISE EXCEPTION 'order %: the % time is written once, by the move to %', OLD.order_no, stage, stage
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT FROM core.order_transitions WHERE from_status = OLD.status AND to_status = NEW.status)
        THEN
            RAISE EXCEPTION 'order %: % -> % is not an allowed status change', OLD.order_no, OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        reached_at := core.order_stage_at(NEW, NEW.status);
        IF reached_at IS NULL THEN
            RAISE EXCEPTION 'order %: the move to % needs its time', OLD.order_no, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        IF reached_at < greatest(OLD.ordered_at, OLD.reviewed_at, OLD.confirmed_at, OLD.picked_at, OLD.shipped_at,
                                 OLD.in_transit_at, OLD.delivered_at, OLD.completed_at, OLD.cancelled_at) THEN
            RAISE EXCEPTION 'order %: % at % is earlier than its previous step', OLD.order_no, NEW.status, reached_at
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_lifecycle
    BEFORE UPDATE OF status, ordered_at, reviewed_at, confirmed_at, picked_at, shipped_at, in_transit_at,
        delivered_at, completed_at, cancelled_at ON core.orders
    FOR EACH ROW EXECUTE FUNCTION core.guard_order_lifecycle();

-- The services name the actor and a note per transaction-local setting; the trigger consumes
-- them so a later raw change in the same transaction is not credited to that actor.
CREATE FUNCTION core.record_order_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO core.order_events (order_id, merchant_id, from_status, to_status, occurred_at, actor, note)
    VALUES (NEW.order_id, NEW.merchant_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
            COALESCE(core.order_stage_at(NEW, NEW.status), NEW.ordered_at),
            NULLIF(current_setting('coopcast.order_actor', true), ''),
            NULLIF(current_setting('coopcast.order_note', true), ''));
    PERFORM set_config('coopcast.order_actor', '', true), set_config('coopcast.order_note', '', true);
    RETURN NULL;
END $$;
CREATE TRIGGER orders_record_creation
    AFTER INSERT ON core.orders
    FOR EACH ROW EXECUTE FUNCTION core.record_order_event();
CREATE TRIGGER orders_record_status_change
    AFTER UPDATE OF status ON core.orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION core.record_order_event();

CREATE FUNCTION core.refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'core.% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE FUNCTION core.refuse_event_forgery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'core.order_events is written by the order''s own status changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER order_events_append_only
    BEFORE UPDATE OR DELETE ON core.order_events
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();
CREATE TRIGGER order_events_no_truncate
    BEFORE TRUNCATE ON core.order_events
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();
CREATE TRIGGER order_events_only_from_orders
    BEFORE INSERT ON core.order_events
    FOR EACH ROW EXECUTE FUNCTION core.refuse_event_forgery();

-- Service levels (DOMAIN: confirm within 24 h, ship within 48 h, fresh goods within 24 h), both
-- counted from the order time. One network-wide row, so the numbers are configurable.
CREATE TABLE core.order_sla_policy (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    confirm_within      interval NOT NULL CHECK (confirm_within > interval '0'),
    ship_within         interval NOT NULL CHECK (ship_within > interval '0'),
    fresh_ship_within   interval NOT NULL CHECK (fresh_ship_within > interval '0')
);
INSERT INTO core.order_sla_policy (confirm_within, ship_within, fresh_ship_within)
VALUES (interval '24 hours', interval '48 hours', interval '24 hours');

-- Promotions a merchant runs. Scope: one SKU, one category (any level), or NULL for the shop.
CREATE TABLE core.promotions (
    promotion_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES core.merchants,
    promotion_code      text NOT NULL CHECK (promotion_code ~ '^[A-Za-z0-9_-]{1,40}$'),
    name                text NOT NULL CHECK (length(btrim(name)) > 0),
    kind                text NOT NULL CHECK (kind IN ('full_reduction', 'percentage', 'flash_sale')),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    product_id          bigint,
    category_id         bigint REFERENCES core.categories,
    threshold_amount    numeric(14, 2),
    reduction_amount    numeric(14, 2),
    repeat_per_threshold boolean NOT NULL DEFAULT false,
    percent_off         numeric(5, 2),
    flash_price         numeric(14, 2),
    quantity_cap        integer,
    sold_quantity       integer NOT NULL DEFAULT 0,
    per_customer_limit  integer CHECK (per_customer_limit > 0),
    created_at          timestamptz NOT NULL,
    UNIQUE (merchant_id, promotion_code),
    UNIQUE (promotion_id, merchant_id),
    CHECK (ends_at > starts_at),
    CHECK (product_id IS NULL OR category_id IS NULL),
    CONSTRAINT promotions_sold_within_cap CHECK (sold_quantity >= 0 AND sold_quantity <= COALESCE(quantity_cap, 0)),
    CHECK (kind <> 'full_reduction' OR (threshold_amount > 0 AND reduction_amount > 0
                                        AND reduction_amount <= threshold_amount)),
    CHECK (kind <> 'percentage' OR (percent_off > 0 AND percent_off < 100)),
    CHECK (kind <> 'flash_sale' OR (product_id IS NOT NULL AND flash_price >= 0 AND quantity_cap > 0)),
    CHECK ((kind = 'full_reduction') = (threshold_amount IS NOT NULL)
           AND (kind = 'full_reduction') = (reduction_amount IS NOT NULL)
           AND (kind = 'percentage') = (percent_off IS NOT NULL)
           AND (kind = 'flash_sale') = (flash_price IS NOT NULL)
           AND (kind = 'flash_sale') = (quantity_cap IS NOT NULL)
           AND (kind = 'flash_sale' OR per_customer_limit IS NULL)),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);
CREATE INDEX promotions_window_idx ON core.promotions (merchant_id, starts_at, ends_at);

CREATE TABLE core.coupons (
    coupon_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES core.merchants,
    coupon_code         text NOT NULL CHECK (coupon_code ~ '^[A-Za-z0-9_-]{1,40}$'),
    name                text NOT NULL CHECK (length(btrim(name)) > 0),
    amount_off          numeric(14, 2) CHECK (amount_off > 0),
    percent_off         numeric(5, 2) CHECK (percent_off > 0 AND percent_off < 100),
    threshold_amount    numeric(14, 2) NOT NULL DEFAULT 0 CHECK (threshold_amount >= 0),
    valid_from          timestamptz NOT NULL,
    valid_until         timestamptz NOT NULL,
    per_customer_limit  integer NOT NULL DEFAULT 1 CHECK (per_customer_limit > 0),
    total_quantity      integer CHECK (total_quantity > 0),
    new_customers_only  boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    UNIQUE (merchant_id, coupon_code),
    UNIQUE (coupon_id, merchant_id),
    CHECK (valid_until > valid_from),
    CHECK ((amount_off IS NULL) <> (percent_off IS NULL))
);

-- One coupon per order at most: the order is the key.
CREATE TABLE core.coupon_redemptions (
    order_id            bigint PRIMARY KEY,
    merchant_id         bigint NOT NULL,
    coupon_id           bigint NOT NULL,
    customer_id         bigint NOT NULL,
    redeemed_at         timestamptz NOT NULL,
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (coupon_id, merchant_id) REFERENCES core.coupons (coupon_id, merchant_id),
    FOREIGN KEY (customer_id, merchant_id) REFERENCES core.customers (customer_id, merchant_id)
);
CREATE INDEX coupon_redemptions_coupon_idx ON core.coupon_redemptions (coupon_id, customer_id);

-- Redemptions of one coupon queue on the coupon's row, so the limits hold under concurrency.
-- A redemption stops counting when its order is cancelled.
CREATE FUNCTION core.guard_coupon_redemption() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    coupon core.coupons;
    order_customer bigint;
    customer_uses integer;
    total_uses integer;
BEGIN
    SELECT * INTO coupon FROM core.coupons WHERE coupon_id = NEW.coupon_id FOR UPDATE;
    SELECT customer_id INTO order_customer FROM core.orders WHERE order_id = NEW.order_id;
    IF order_customer IS DISTINCT FROM NEW.customer_id THEN
        RAISE EXCEPTION 'coupon %: redeemed for a customer other than the order''s', coupon.coupon_code
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.redeemed_at < coupon.valid_from OR NEW.redeemed_at >= coupon.valid_until THEN
        RAISE EXCEPTION 'coupon % is valid from % until %', coupon.coupon_code, coupon.valid_from, coupon.valid_until
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT count(*) FILTER (WHERE r.customer_id = NEW.customer_id), count(*)
      INTO customer_uses, total_uses
      FROM core.coupon_redemptions r JOIN core.orders o ON o.order_id = r.order_id
     WHERE r.coupon_id = NEW.coupon_id AND o.status <> 'cancelled';
    IF customer_uses >= coupon.per_customer_limit THEN
        RAISE EXCEPTION 'coupon % allows % use(s) per customer', coupon.coupon_code, coupon.per_customer_limit
            USING ERRCODE = 'check_violation';
    END IF;
    IF total_uses >= coupon.total_quantity THEN
        RAISE EXCEPTION 'coupon % is used up (% issued)', coupon.coupon_code, coupon.total_quantity
            USING ERRCODE = 'check_violation';
    END IF;
    IF coupon.new_customers_only THEN
        -- A concurrent order of the same customer holds a key-share lock on the customer (its
        -- foreign key): waiting for it here lets the check below see that order once committed.
        PERFORM FROM core.customers WHERE customer_id = NEW.customer_id FOR UPDATE;
        IF EXISTS (
            SELECT FROM core.orders
            WHERE customer_id = NEW.customer_id AND order_id <> NEW.order_id AND status <> 'cancelled'
        ) THEN
            RAISE EXCEPTION 'coupon % is for a customer''s first order only', coupon.coupon_code
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER coupon_redemptions_within_limits
    BEFORE INSERT ON core.coupon_redemptions
    FOR EACH ROW EXECUTE FUNCTION core.guard_coupon_redemption();
CREATE TRIGGER coupon_redemptions_final
    BEFORE UPDATE OR DELETE ON core.coupon_redemptions
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();

-- What each order was given: line-level rows name their line; order-level rows (order_line_id
-- NULL) were spread over the lines in cents, so order_lines.discount_amount is the net truth.
CREATE TABLE core.order_discounts (
    order_discount_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id            bigint NOT NULL,
    merchant_id         bigint NOT NULL,
    order_line_id       bigint,
    level               text GENERATED ALWAYS AS (CASE WHEN order_line_id IS NULL THEN 'order' ELSE 'line' END) STORED,
    source              text NOT NULL CHECK (source IN ('promotion', 'coupon', 'manual')),
    promotion_id        bigint,
    coupon_id           bigint,
    amount              numeric(14, 2) NOT NULL CHECK (amount >= 0),
    CHECK ((source = 'promotion') = (promotion_id IS NOT NULL)),
    CHECK ((source = 'coupon') = (coupon_id IS NOT NULL)),
    CHECK (source <> 'manual' OR order_line_id IS NOT NULL),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (order_line_id, merchant_id) REFERENCES core.order_lines (order_line_id, merchant_id),
    FOREIGN KEY (promotion_id, merchant_id) REFERENCES core.promotions (promotion_id, merchant_id),
    FOREIGN KEY (coupon_id, merchant_id) REFERENCES core.coupons (coupon_id, merchant_id)
);
CREATE INDEX order_discounts_order_idx ON core.order_discounts (order_id);
CREATE INDEX order_discounts_promotion_idx ON core.order_discounts (promotion_id) WHERE promotion_id IS NOT NULL;
CREATE TRIGGER order_discounts_append_only
    BEFORE UPDATE OR DELETE ON core.order_discounts
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();

-- After-sales returns: requested -> approved | rejected; approved -> received -> refunded.
CREATE SEQUENCE core.return_no_seq;
CREATE TABLE core.returns (
    return_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    return_no       text NOT NULL DEFAULT 'RT' || lpad(nextval('core.return_no_seq')::text, 10, '0'),
    order_id        bigint NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('no_reason', 'quality_defect')),
    note            text,
    status          text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'received', 'refunded')),
    requested_at    timestamptz NOT NULL,
    approved_at     timestamptz,
    rejected_at     timestamptz,
    received_at     timestamptz,
    refunded_at     timestamptz,
    refund_amount   numeric(14, 2) CHECK (refund_amount >= 0),
    updated_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, return_no),
    UNIQUE (return_id, merchant_id),
    CHECK ((approved_at IS NOT NULL) = (status IN ('approved', 'received', 'refunded'))),
    CHECK ((rejected_at IS NOT NULL) = (status = 'rejected')),
    CHECK ((received_at IS NOT NULL) = (status IN ('received', 'refunded'))),
    CHECK ((refunded_at IS NOT NULL) = (status = 'refunded')),
    CHECK ((refund_amount IS NOT NULL) = (status = 'refunded')),
    CHECK (approved_at >= requested_at),
    CHECK (rejected_at >= requested_at),
    CHECK (received_at >= approved_at),
    CHECK (refunded_at >= received_at),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id)
);
CREATE INDEX returns_order_idx ON core.returns (order_id);

CREATE TABLE core.return_lines (
    return_line_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    return_id       bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    order_line_id   bigint NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    refund_amount   numeric(14, 2) CHECK (refund_amount >= 0),
    UNIQUE (return_id, order_line_id),
    FOREIGN KEY (return_id, merchant_id) REFERENCES core.returns (return_id, merchant_id),
    FOREIGN KEY (order_line_id, merchant_id) REFERENCES core.order_lines (order_line_id, merchant_id)
);
CREATE INDEX return_lines_order_line_idx ON core.return_lines (order_line_id);

CREATE FUNCTION core.guard_return() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delivered timestamptz;
    lines_refund numeric(14, 2);
    unpriced integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT delivered_at INTO delivered FROM core.orders WHERE order_id = NEW.order_id;
        IF NEW.status <> 'requested' THEN
            RAISE EXCEPTION 'return %: a return starts as requested', NEW.return_no USING ERRCODE = 'check_violation';
        END IF;
        IF delivered IS NULL OR NEW.requested_at < delivered THEN
            RAISE EXCEPTION 'return %: its order has not been delivered', NEW.return_no
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.requested_at, NEW.approved_at, NEW.rejected_at, NEW.received_at, NEW.refunded_at, NEW.refund_amount,
        NEW.order_id, NEW.reason)
       IS DISTINCT FROM (OLD.requested_at, COALESCE(OLD.approved_at, NEW.approved_at),
                         COALESCE(OLD.rejected_at, NEW.rejected_at), COALESCE(OLD.received_at, NEW.received_at),
                         COALESCE(OLD.refunded_at, NEW.refunded_at), COALESCE(OLD.refund_amount, NEW.refund_amount),
                         OLD.order_id, OLD.reason) THEN
        RAISE EXCEPTION 'return %: what was requested and decided is never rewritten', OLD.return_no
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF (OLD.status, NEW.status) NOT IN (('requested', 'approved'), ('requested', 'rejected'),
                                            ('approved', 'received'), ('received', 'refunded')) THEN
            RAISE EXCEPTION 'return %: % -> % is not an allowed status change', OLD.return_no, OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.status = 'rejected' THEN
            UPDATE core.order_lines ol SET returned_quantity = ol.returned_quantity - rl.quantity
              FROM core.return_lines rl
             WHERE rl.return_id = NEW.return_id AND ol.order_line_id = rl.order_line_id;
        END IF;
        IF NEW.status = 'refunded' THEN
            SELECT COALESCE(sum(refund_amount), 0), count(*) FILTER (WHERE refund_amount IS NULL)
              INTO lines_refund, unpriced
              FROM core.return_lines WHERE return_id = NEW.return_id;
            IF unpriced > 0 OR lines_refund <> NEW.refund_amount THEN
                RAISE EXCEPTION 'return %: the refund % is not the sum of its lines'' refunds %', OLD.return_no,
                    NEW.refund_amount, lines_refund USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER returns_lifecycle
    BEFORE INSERT OR UPDATE ON core.returns
    FOR EACH ROW EXECUTE FUNCTION core.guard_return();
CREATE TRIGGER returns_kept
    BEFORE DELETE ON core.returns
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();

-- A return line counts against its order line at once (a rejected return gives it back), so
-- two concurrent returns queue on the order line's row and can never together exceed what was
-- shipped. Its refund is set once, when the return is refunded, and adds to the line's total.
CREATE FUNCTION core.guard_return_line() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent core.returns;
    line core.order_lines;
BEGIN
    SELECT * INTO parent FROM core.returns WHERE return_id = NEW.return_id;
    IF TG_OP = 'INSERT' THEN
        SELECT * INTO line FROM core.order_lines WHERE order_line_id = NEW.order_line_id FOR UPDATE;
        IF parent.status <> 'requested' THEN
            RAISE EXCEPTION 'return %: lines are added only while it is requested', parent.return_no
                USING ERRCODE = 'check_violation';
        END IF;
        IF line.order_id <> parent.order_id THEN
            RAISE EXCEPTION 'return %: order line % is not on the returned order', parent.return_no, NEW.order_line_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.quantity > line.quantity - line.returned_quantity THEN
            RAISE EXCEPTION 'return %: line % has % shipped unit(s) not yet returned, % requested', parent.return_no,
                line.line_no, line.quantity - line.returned_quantity, NEW.quantity USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.refund_amount IS NOT NULL THEN
            RAISE EXCEPTION 'return %: the refund is set when the return is refunded', parent.return_no
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE core.order_lines SET returned_quantity = returned_quantity + NEW.quantity
         WHERE order_line_id = NEW.order_line_id;
        RETURN NEW;
    END IF;
    IF (NEW.return_id, NEW.order_line_id, NEW.quantity)
           IS DISTINCT FROM (OLD.return_id, OLD.order_line_id, OLD.quantity)
       OR OLD.refund_amount IS NOT NULL OR NEW.refund_amount IS NULL OR parent.status <> 'received' THEN
        RAISE EXCEPTION 'return %: a line''s refund is set once, after the goods are received', parent.return_no
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE core.order_lines SET refunded_amount = refunded_amount + NEW.refund_amount
     WHERE order_line_id = NEW.order_line_id;
    RETURN NEW;
END $$;
CREATE TRIGGER return_lines_within_shipped
    BEFORE INSERT OR UPDATE ON core.return_lines
    FOR EACH ROW EXECUTE FUNCTION core.guard_return_line();
CREATE TRIGGER return_lines_kept
    BEFORE DELETE ON core.return_lines
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();
"""

DOWNGRADE = """
DROP TABLE core.return_lines, core.returns, core.order_discounts, core.coupon_redemptions, core.coupons,
    core.promotions, core.order_events, core.order_transitions;
DROP SEQUENCE core.return_no_seq;
DROP VIEW core.category_rules;
DROP TABLE core.order_sla_policy;
DROP TRIGGER orders_lifecycle ON core.orders;
DROP TRIGGER orders_record_creation ON core.orders;
DROP TRIGGER orders_record_status_change ON core.orders;
DROP TRIGGER order_lines_return_totals_derived ON core.order_lines;
DROP TRIGGER categories_default_rules ON core.categories;
DROP FUNCTION core.guard_return_line(), core.guard_return(), core.guard_coupon_redemption(),
    core.refuse_event_forgery(), core.refuse_rewrite(), core.record_order_event(), core.guard_order_lifecycle(),
    core.order_stage_at(core.orders, text), core.refuse_direct_return_totals(), core.default_category_rules();
DROP INDEX core.orders_customer_idx;
ALTER TABLE core.order_lines
    DROP COLUMN returned_quantity,
    DROP COLUMN refunded_amount;
ALTER TABLE core.orders
    DROP CONSTRAINT orders_reviewed_in_order,
    DROP CONSTRAINT orders_confirmed_in_order,
    DROP CONSTRAINT orders_picked_in_order,
    DROP CONSTRAINT orders_shipped_in_order,
    DROP CONSTRAINT orders_in_transit_in_order,
    DROP CONSTRAINT orders_delivered_in_order,
    DROP CONSTRAINT orders_completed_in_order,
    DROP CONSTRAINT orders_cancelled_in_order,
    DROP COLUMN reviewed_at,
    DROP COLUMN picked_at,
    DROP COLUMN in_transit_at,
    DROP COLUMN delivered_at,
    DROP COLUMN completed_at,
    DROP COLUMN payment_method,
    DROP COLUMN credit_term_days;
ALTER TABLE core.customers DROP COLUMN credit_limit;
ALTER TABLE core.categories DROP COLUMN is_fresh, DROP COLUMN no_reason_returns;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
