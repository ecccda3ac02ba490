"""Catalogue attributes, price tiers and price history, supplier grades, purchase approvals and receipts.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

# Prices and costs are append-only histories (price-trend analytics read them); a newer row of
# the same key supersedes an older one, and core.products.price / unit_cost are derived from the
# newest national retail price and the newest cost, the way core.stock is derived from the ledger.
# Purchase orders pass a per-merchant, multi-level approval, are refused by the database when
# the supplier is blacklisted, and are received delivery by delivery with a quality inspection.
UPGRADE = """
CREATE FUNCTION core.refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only history: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Catalogue: variants of one product (复合肥 25kg and 50kg) share a product group.
CREATE TABLE core.product_groups (
    product_group_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    group_code      text NOT NULL CHECK (group_code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name            text NOT NULL CHECK (length(btrim(name)) > 0),
    created_at      timestamptz NOT NULL,
    UNIQUE (merchant_id, group_code),
    UNIQUE (product_group_id, merchant_id)
);

-- min_order_qty and order_multiple stay the supplier's minimum and multiple (replenishment reads
-- them); min_sale_qty is the smallest quantity a customer may buy.
ALTER TABLE core.products
    ADD COLUMN product_group_id bigint,
    ADD COLUMN brand text CHECK (length(btrim(brand)) > 0),
    ADD COLUMN origin text CHECK (length(btrim(origin)) > 0),
    ADD COLUMN pack_size numeric(12, 3) CHECK (pack_size > 0),
    ADD COLUMN pack_unit text CHECK (length(btrim(pack_unit)) > 0),
    ADD COLUMN min_sale_qty integer NOT NULL DEFAULT 1 CHECK (min_sale_qty >= 1),
    ADD CONSTRAINT products_pack_size_has_unit CHECK ((pack_size IS NULL) = (pack_unit IS NULL)),
    ADD CONSTRAINT products_product_group_fkey FOREIGN KEY (product_group_id, merchant_id)
        REFERENCES core.product_groups (product_group_id, merchant_id);
CREATE INDEX products_group_idx ON core.products (product_group_id) WHERE product_group_id IS NOT NULL;

-- The price tier a customer buys at (transactional.prices): 批发价 for shops, 会员价 for members.
ALTER TABLE core.customers
    ADD COLUMN price_tier text NOT NULL DEFAULT 'retail' CHECK (price_tier IN ('retail', 'wholesale', 'member'));

-- A removed tag keeps its row with untagged_at, so how long a SKU carried 限时促销 stays known.
CREATE TABLE core.product_tags (
    product_id      bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    tag             text NOT NULL CHECK (char_length(tag) BETWEEN 1 AND 32 AND tag = btrim(tag)),
    tagged_at       timestamptz NOT NULL,
    untagged_at     timestamptz CHECK (untagged_at >= tagged_at),
    PRIMARY KEY (product_id, tag),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);
CREATE INDEX product_tags_merchant_tag_idx ON core.product_tags (merchant_id, tag) WHERE untagged_at IS NULL;

-- Prices: one row per change of one key (tier, region, quantity break). region NULL is the
-- national price; unit_price NULL withdraws that key from then on (never the list price).
CREATE TABLE core.product_price_history (
    price_change_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    tier            text NOT NULL CHECK (tier IN ('retail', 'wholesale', 'member')),
    region          text CHECK (length(btrim(region)) > 0),
    min_quantity    integer NOT NULL DEFAULT 1 CHECK (min_quantity >= 1),
    unit_price      numeric(14, 2) CHECK (unit_price >= 0),
    valid_from      timestamptz NOT NULL,
    CONSTRAINT product_price_history_list_price_never_withdrawn
        CHECK (unit_price IS NOT NULL OR tier <> 'retail' OR region IS NOT NULL OR min_quantity > 1),
    UNIQUE NULLS NOT DISTINCT (product_id, tier, region, min_quantity, valid_from),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);

CREATE TABLE core.product_cost_history (
    cost_change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    unit_cost       numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    valid_from      timestamptz NOT NULL,
    UNIQUE (product_id, valid_from),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);

-- A temporary price for [valid_from, valid_until); tier or region NULL means every tier or region.
CREATE TABLE core.product_promotion_prices (
    promotion_price_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    tier            text CHECK (tier IN ('retail', 'wholesale', 'member')),
    region          text CHECK (length(btrim(region)) > 0),
    promotion_price numeric(14, 2) NOT NULL CHECK (promotion_price >= 0),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    label           text,
    recorded_at     timestamptz NOT NULL,
    CHECK (valid_until > valid_from),
    UNIQUE NULLS NOT DISTINCT (product_id, tier, region, valid_from),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);
CREATE INDEX product_promotion_prices_active_idx ON core.product_promotion_prices (product_id, valid_until);

-- What products held before price history existed is their first history row.
INSERT INTO core.product_price_history (merchant_id, product_id, tier, min_quantity, unit_price, valid_from)
SELECT merchant_id, product_id, 'retail', 1, price, created_at FROM core.products;
INSERT INTO core.product_cost_history (merchant_id, product_id, unit_cost, valid_from)
SELECT merchant_id, product_id, unit_cost, created_at FROM core.products;

-- History only grows forward in time, per key: the product row is locked first, so concurrent
-- changes of one SKU queue and the newest row is always the one in force now.
CREATE FUNCTION core.check_price_change_is_newest() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    latest timestamptz;
BEGIN
    PERFORM 1 FROM core.products WHERE product_id = NEW.product_id FOR NO KEY UPDATE;
    IF TG_TABLE_NAME = 'product_price_history' THEN
        SELECT max(valid_from) INTO latest FROM core.product_price_history
         WHERE product_id = NEW.product_id AND tier = NEW.tier AND region IS NOT DISTINCT FROM NEW.region
           AND min_quantity = NEW.min_quantity;
    ELSE
        SELECT max(valid_from) INTO latest FROM core.product_cost_history WHERE product_id = NEW.product_id;
    END IF;
    IF latest >= NEW.valid_from THEN
        RAISE EXCEPTION 'product %: a change from % is already recorded in %, so one from % would rewrite history',
            NEW.product_id, latest, TG_TABLE_NAME, NEW.valid_from
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER product_price_history_newest
    BEFORE INSERT ON core.product_price_history
    FOR EACH ROW EXECUTE FUNCTION core.check_price_change_is_newest();
CREATE TRIGGER product_cost_history_newest
    BEFORE INSERT ON core.product_cost_history
    FOR EACH ROW EXECUTE FUNCTION core.check_price_change_is_newest();

-- The order service and the simulator read products.price and unit_cost: keep them equal to the
-- newest national retail price and the newest cost.
CREATE FUNCTION core.sync_product_price() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'product_cost_history' THEN
        UPDATE core.products
           SET unit_cost = NEW.unit_cost, updated_at = greatest(updated_at, NEW.valid_from)
         WHERE product_id = NEW.product_id AND unit_cost IS DISTINCT FROM NEW.unit_cost;
    ELSIF NEW.tier = 'retail' AND NEW.region IS NULL AND NEW.min_quantity = 1 THEN
        UPDATE core.products
           SET price = NEW.unit_price, updated_at = greatest(updated_at, NEW.valid_from)
         WHERE product_id = NEW.product_id AND price IS DISTINCT FROM NEW.unit_price;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER product_price_history_sync
    AFTER INSERT ON core.product_price_history
    FOR EACH ROW EXECUTE FUNCTION core.sync_product_price();
CREATE TRIGGER product_cost_history_sync
    AFTER INSERT ON core.product_cost_history
    FOR EACH ROW EXECUTE FUNCTION core.sync_product_price();

-- And the other way: a new product starts its histories, and a price or cost written straight
-- into core.products (an import, an admin) is recorded as a change at the row's updated_at.
-- A value that already equals the newest history row came from the history itself.
CREATE FUNCTION core.record_product_price_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.price IS DISTINCT FROM (
        SELECT unit_price FROM core.product_price_history
         WHERE product_id = NEW.product_id AND tier = 'retail' AND region IS NULL AND min_quantity = 1
         ORDER BY valid_from DESC LIMIT 1
    ) THEN
        INSERT INTO core.product_price_history (merchant_id, product_id, tier, min_quantity, unit_price, valid_from)
        VALUES (NEW.merchant_id, NEW.product_id, 'retail', 1, NEW.price,
                CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END);
    END IF;
    IF TG_OP = 'INSERT' OR NEW.unit_cost IS DISTINCT FROM (
        SELECT unit_cost FROM core.product_cost_history
         WHERE product_id = NEW.product_id ORDER BY valid_from DESC LIMIT 1
    ) THEN
        INSERT INTO core.product_cost_history (merchant_id, product_id, unit_cost, valid_from)
        VALUES (NEW.merchant_id, NEW.product_id, NEW.unit_cost,
                CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER products_start_price_history
    AFTER INSERT ON core.products
    FOR EACH ROW EXECUTE FUNCTION core.record_product_price_change();
CREATE TRIGGER products_record_price_change
    AFTER UPDATE OF price, unit_cost ON core.products
    FOR EACH ROW WHEN (NEW.price IS DISTINCT FROM OLD.price OR NEW.unit_cost IS DISTINCT FROM OLD.unit_cost)
    EXECUTE FUNCTION core.record_product_price_change();

CREATE TRIGGER product_price_history_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.product_price_history
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();
CREATE TRIGGER product_cost_history_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.product_cost_history
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();
CREATE TRIGGER product_promotion_prices_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.product_promotion_prices
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();

-- Suppliers: qualification grade, blacklist, agreements.
ALTER TABLE core.suppliers
    ADD COLUMN qualification_grade text CHECK (qualification_grade IN ('A', 'B', 'C', 'D')),
    ADD COLUMN is_blacklisted boolean NOT NULL DEFAULT false,
    ADD COLUMN blacklist_reason text,
    ADD COLUMN blacklisted_at timestamptz,
    ADD CONSTRAINT suppliers_blacklist_has_reason_and_time CHECK (
        is_blacklisted = (blacklisted_at IS NOT NULL)
        AND is_blacklisted = (coalesce(length(btrim(blacklist_reason)), 0) > 0));

-- The agreement in force at a moment is the supplier's newest one that started by then, unless
-- it has ended.
CREATE TABLE core.supplier_agreements (
    agreement_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    supplier_id     bigint NOT NULL,
    agreement_code  text NOT NULL CHECK (length(btrim(agreement_code)) > 0),
    rebate_pct      numeric(5, 2) NOT NULL DEFAULT 0 CHECK (rebate_pct BETWEEN 0 AND 100),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    created_at      timestamptz NOT NULL,
    CHECK (valid_until > valid_from),
    UNIQUE (merchant_id, agreement_code),
    UNIQUE (supplier_id, valid_from),
    UNIQUE (agreement_id, merchant_id),
    UNIQUE (agreement_id, supplier_id, merchant_id),
    FOREIGN KEY (supplier_id, merchant_id) REFERENCES core.suppliers (supplier_id, merchant_id)
);

CREATE TABLE core.supplier_agreement_prices (
    agreement_id    bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    product_id      bigint NOT NULL,
    agreed_unit_cost numeric(14, 2) NOT NULL CHECK (agreed_unit_cost >= 0),
    PRIMARY KEY (agreement_id, product_id),
    FOREIGN KEY (agreement_id, merchant_id) REFERENCES core.supplier_agreements (agreement_id, merchant_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id)
);

-- Approval: a purchase order of at least min_amount needs every level up to required_level,
-- signed in order. A merchant without rules in force (retired_at NULL) needs no approval.
CREATE TABLE core.purchase_approval_rules (
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    required_level  smallint NOT NULL CHECK (required_level BETWEEN 1 AND 9),
    min_amount      numeric(14, 2) NOT NULL CHECK (min_amount > 0),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    retired_at      timestamptz,
    PRIMARY KEY (merchant_id, required_level)
);
CREATE UNIQUE INDEX purchase_approval_rules_one_level_per_amount
    ON core.purchase_approval_rules (merchant_id, min_amount) WHERE retired_at IS NULL;

-- 'open' keeps its meaning (approved and sent, nothing received yet), so do 'received' (nothing
-- more expected) and 'cancelled'.
ALTER TABLE core.purchase_orders
    DROP CONSTRAINT purchase_orders_status_check,
    ADD CONSTRAINT purchase_orders_status_check CHECK (status IN (
        'pending_approval', 'open', 'partially_received', 'received', 'rejected', 'cancelled')),
    ADD COLUMN required_approval_level smallint NOT NULL DEFAULT 0 CHECK (required_approval_level BETWEEN 0 AND 9),
    ADD COLUMN approved_level smallint NOT NULL DEFAULT 0 CHECK (approved_level >= 0),
    ADD COLUMN agreement_id bigint,
    ADD CONSTRAINT purchase_orders_approved_within_required CHECK (approved_level <= required_approval_level),
    ADD CONSTRAINT purchase_orders_pending_until_approved CHECK (
        (status = 'pending_approval') = (approved_level < required_approval_level)
        OR status IN ('rejected', 'cancelled')),
    ADD CONSTRAINT purchase_orders_agreement_fkey FOREIGN KEY (agreement_id, supplier_id, merchant_id)
        REFERENCES core.supplier_agreements (agreement_id, supplier_id, merchant_id);

ALTER TABLE core.purchase_order_lines
    ADD CONSTRAINT purchase_order_lines_received_within_ordered CHECK (received_quantity <= quantity),
    ADD CONSTRAINT purchase_order_lines_receipt_key
        UNIQUE (purchase_order_line_id, purchase_order_id, product_id, merchant_id);

CREATE TABLE core.purchase_order_approvals (
    approval_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_order_id bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    level           smallint NOT NULL CHECK (level BETWEEN 1 AND 9),
    decision        text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    approver        text NOT NULL CHECK (length(btrim(approver)) > 0),
    note            text,
    decided_at      timestamptz NOT NULL,
    CONSTRAINT purchase_order_approvals_rejection_has_reason
        CHECK (decision = 'approved' OR length(btrim(note)) > 0),
    UNIQUE (purchase_order_id, level),
    UNIQUE (purchase_order_id, approver),
    FOREIGN KEY (purchase_order_id, merchant_id) REFERENCES core.purchase_orders (purchase_order_id, merchant_id)
);

-- Status moves only forward; approvals are the only way to raise approved_level; an order to a
-- blacklisted supplier is refused when created, moved to that supplier, or sent after approval.
CREATE FUNCTION core.guard_purchase_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    supplier record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status NOT IN ('pending_approval', 'open') OR NEW.approved_level <> 0 THEN
            RAISE EXCEPTION 'purchase order % must start pending_approval or open with no approvals, not % at level %',
                NEW.po_no, NEW.status, NEW.approved_level
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        IF NEW.required_approval_level <> OLD.required_approval_level THEN
            RAISE EXCEPTION 'purchase order %: the required approval level is fixed when it is created', NEW.po_no
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.approved_level <> OLD.approved_level AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'purchase order %: approvals are recorded in core.purchase_order_approvals', NEW.po_no
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
            ('pending_approval', 'open'), ('pending_approval', 'rejected'), ('pending_approval', 'cancelled'),
            ('open', 'partially_received'), ('open', 'received'), ('open', 'cancelled'),
            ('partially_received', 'received'), ('partially_received', 'cancelled')
        ) THEN
            RAISE EXCEPTION 'purchase order % cannot go from % to %', NEW.po_no, OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.supplier_id <> OLD.supplier_id
       OR (OLD.status = 'pending_approval' AND NEW.status = 'open') THEN
        -- FOR SHARE queues behind a concurrent blacklisting of the same supplier.
        SELECT supplier_code, is_blacklisted, blacklist_reason INTO supplier
          FROM core.suppliers WHERE supplier_id = NEW.supplier_id FOR SHARE;
        IF supplier.is_blacklisted THEN
            RAISE EXCEPTION 'supplier % is blacklisted (%): purchase order % refused',
                supplier.supplier_code, supplier.blacklist_reason, NEW.po_no
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER purchase_orders_guard
    BEFORE INSERT OR UPDATE ON core.purchase_orders
    FOR EACH ROW EXECUTE FUNCTION core.guard_purchase_order();

-- At commit, when an order or its lines were written, its required level must cover what the
-- merchant's rules demand for its amount, so a raw INSERT cannot skip the approval.
CREATE FUNCTION core.check_purchase_order_approval_level() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    po record;
    amount numeric;
    needed smallint;
BEGIN
    SELECT purchase_order_id, merchant_id, po_no, required_approval_level INTO po
      FROM core.purchase_orders WHERE purchase_order_id = NEW.purchase_order_id;
    IF NOT EXISTS (
        SELECT 1 FROM core.purchase_approval_rules WHERE merchant_id = po.merchant_id AND retired_at IS NULL
    ) THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(quantity * unit_cost), 0) INTO amount
      FROM core.purchase_order_lines WHERE purchase_order_id = po.purchase_order_id;
    SELECT coalesce(max(required_level), 0) INTO needed
      FROM core.purchase_approval_rules
     WHERE merchant_id = po.merchant_id AND retired_at IS NULL AND min_amount <= amount;
    IF po.required_approval_level < needed THEN
        RAISE EXCEPTION 'purchase order % of % CNY needs approval up to level %, not %',
            po.po_no, amount, needed, po.required_approval_level
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER purchase_orders_approval_level
    AFTER INSERT ON core.purchase_orders DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.check_purchase_order_approval_level();
CREATE CONSTRAINT TRIGGER purchase_order_lines_approval_level
    AFTER INSERT OR UPDATE OF quantity, unit_cost ON core.purchase_order_lines DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.check_purchase_order_approval_level();

-- A decision is taken at the next level only, while the order awaits it; the last approval
-- sends the order (open), any rejection ends it.
CREATE FUNCTION core.apply_purchase_order_approval() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    po record;
BEGIN
    SELECT po_no, status, required_approval_level, approved_level INTO po
      FROM core.purchase_orders WHERE purchase_order_id = NEW.purchase_order_id FOR UPDATE;
    IF po.status <> 'pending_approval' THEN
        RAISE EXCEPTION 'purchase order % is %: it awaits no approval', po.po_no, po.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.level <> po.approved_level + 1 THEN
        RAISE EXCEPTION 'purchase order % awaits level % approval, not level %',
            po.po_no, po.approved_level + 1, NEW.level
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.decision = 'rejected' THEN
        UPDATE core.purchase_orders SET status = 'rejected', updated_at = NEW.decided_at
         WHERE purchase_order_id = NEW.purchase_order_id;
    ELSE
        UPDATE core.purchase_orders
           SET approved_level = NEW.level,
               status = CASE WHEN NEW.level = required_approval_level THEN 'open' ELSE status END,
               updated_at = NEW.decided_at
         WHERE purchase_order_id = NEW.purchase_order_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER purchase_order_approvals_apply
    AFTER INSERT ON core.purchase_order_approvals
    FOR EACH ROW EXECUTE FUNCTION core.apply_purchase_order_approval();
CREATE TRIGGER purchase_order_approvals_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.purchase_order_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();

-- Receipts: one row per delivery, judged on time by business date (Asia/Shanghai) against the
-- order's expected date; one line per SKU delivered, split into passed and rejected units.
CREATE TABLE core.purchase_receipts (
    receipt_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    purchase_order_id bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    expected_at     timestamptz NOT NULL,
    received_date   date GENERATED ALWAYS AS ((received_at AT TIME ZONE 'Asia/Shanghai')::date) STORED,
    expected_date   date GENERATED ALWAYS AS ((expected_at AT TIME ZONE 'Asia/Shanghai')::date) STORED,
    days_late       integer GENERATED ALWAYS AS (greatest(
                        (received_at AT TIME ZONE 'Asia/Shanghai')::date
                        - (expected_at AT TIME ZONE 'Asia/Shanghai')::date, 0)) STORED,
    on_time         boolean GENERATED ALWAYS AS (
                        (received_at AT TIME ZONE 'Asia/Shanghai')::date
                        <= (expected_at AT TIME ZONE 'Asia/Shanghai')::date) STORED,
    UNIQUE (receipt_id, purchase_order_id, merchant_id),
    FOREIGN KEY (purchase_order_id, merchant_id) REFERENCES core.purchase_orders (purchase_order_id, merchant_id)
);
CREATE INDEX purchase_receipts_order_idx ON core.purchase_receipts (purchase_order_id);

CREATE TABLE core.purchase_receipt_lines (
    receipt_line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt_id      bigint NOT NULL,
    purchase_order_id bigint NOT NULL,
    purchase_order_line_id bigint NOT NULL,
    product_id      bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    delivered_quantity integer NOT NULL CHECK (delivered_quantity > 0),
    passed_quantity integer NOT NULL CHECK (passed_quantity >= 0),
    rejected_quantity integer NOT NULL CHECK (rejected_quantity >= 0),
    rejection_reason text,
    batch_id        bigint,
    CONSTRAINT purchase_receipt_lines_delivered_is_passed_plus_rejected
        CHECK (delivered_quantity = passed_quantity + rejected_quantity),
    CONSTRAINT purchase_receipt_lines_rejection_has_reason
        CHECK ((rejected_quantity > 0) = (coalesce(length(btrim(rejection_reason)), 0) > 0)),
    CONSTRAINT purchase_receipt_lines_passed_units_have_a_batch CHECK ((passed_quantity > 0) = (batch_id IS NOT NULL)),
    UNIQUE (receipt_id, purchase_order_line_id),
    FOREIGN KEY (receipt_id, purchase_order_id, merchant_id)
        REFERENCES core.purchase_receipts (receipt_id, purchase_order_id, merchant_id),
    FOREIGN KEY (purchase_order_line_id, purchase_order_id, product_id, merchant_id)
        REFERENCES core.purchase_order_lines (purchase_order_line_id, purchase_order_id, product_id, merchant_id),
    FOREIGN KEY (batch_id, product_id, merchant_id) REFERENCES core.batches (batch_id, product_id, merchant_id)
);
CREATE INDEX purchase_receipt_lines_order_line_idx ON core.purchase_receipt_lines (purchase_order_line_id);

-- A delivery is taken against an open order and is measured against that order's expected time.
CREATE FUNCTION core.prepare_purchase_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    po record;
BEGIN
    SELECT po_no, status, ordered_at, expected_at INTO po
      FROM core.purchase_orders WHERE purchase_order_id = NEW.purchase_order_id;
    IF po.status NOT IN ('open', 'partially_received') THEN
        RAISE EXCEPTION 'purchase order % is %: it takes no deliveries', po.po_no, po.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.received_at < po.ordered_at THEN
        RAISE EXCEPTION 'purchase order % was ordered at %: a delivery at % is before it', po.po_no, po.ordered_at,
            NEW.received_at
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.expected_at := po.expected_at;
    RETURN NEW;
END $$;

CREATE TRIGGER purchase_receipts_prepare
    BEFORE INSERT ON core.purchase_receipts
    FOR EACH ROW EXECUTE FUNCTION core.prepare_purchase_receipt();

-- received_quantity on an order line is the sum of its passed units, kept by the receipts alone.
CREATE FUNCTION core.apply_purchase_receipt_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core.purchase_order_lines
       SET received_quantity = received_quantity + NEW.passed_quantity
     WHERE purchase_order_line_id = NEW.purchase_order_line_id;
    RETURN NULL;
END $$;

CREATE TRIGGER purchase_receipt_lines_apply
    AFTER INSERT ON core.purchase_receipt_lines
    FOR EACH ROW EXECUTE FUNCTION core.apply_purchase_receipt_line();

CREATE FUNCTION core.refuse_direct_received_quantity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.received_quantity <> OLD.received_quantity AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'received quantity of purchase order line % follows its receipts: record a receipt',
            NEW.purchase_order_line_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER purchase_order_lines_received_via_receipts
    BEFORE UPDATE OF received_quantity ON core.purchase_order_lines
    FOR EACH ROW EXECUTE FUNCTION core.refuse_direct_received_quantity();

CREATE TRIGGER purchase_receipts_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.purchase_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();
CREATE TRIGGER purchase_receipt_lines_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON core.purchase_receipt_lines
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_history_rewrite();
"""

DOWNGRADE = """
DROP TABLE core.purchase_receipt_lines, core.purchase_receipts, core.purchase_order_approvals,
    core.purchase_approval_rules;
DROP TRIGGER purchase_order_lines_received_via_receipts ON core.purchase_order_lines;
DROP TRIGGER purchase_order_lines_approval_level ON core.purchase_order_lines;
DROP TRIGGER purchase_orders_approval_level ON core.purchase_orders;
DROP TRIGGER purchase_orders_guard ON core.purchase_orders;
ALTER TABLE core.purchase_order_lines
    DROP CONSTRAINT purchase_order_lines_received_within_ordered,
    DROP CONSTRAINT purchase_order_lines_receipt_key;
ALTER TABLE core.purchase_orders
    DROP CONSTRAINT purchase_orders_status_check,
    DROP CONSTRAINT purchase_orders_pending_until_approved,
    DROP CONSTRAINT purchase_orders_approved_within_required,
    DROP CONSTRAINT purchase_orders_agreement_fkey,
    DROP COLUMN required_approval_level,
    DROP COLUMN approved_level,
    DROP COLUMN agreement_id;
UPDATE core.purchase_orders SET status = 'open' WHERE status IN ('pending_approval', 'partially_received');
UPDATE core.purchase_orders SET status = 'cancelled' WHERE status = 'rejected';
ALTER TABLE core.purchase_orders
    ADD CONSTRAINT purchase_orders_status_check CHECK (status IN ('open', 'received', 'cancelled'));
DROP TABLE core.supplier_agreement_prices, core.supplier_agreements;
ALTER TABLE core.suppliers
    DROP CONSTRAINT suppliers_blacklist_has_reason_and_time,
    DROP COLUMN qualification_grade,
    DROP COLUMN is_blacklisted,
    DROP COLUMN blacklist_reason,
    DROP COLUMN blacklisted_at;
DROP TRIGGER products_record_price_change ON core.products;
DROP TRIGGER products_start_price_history ON core.products;
DROP TABLE core.product_promotion_prices, core.product_cost_history, core.product_price_history,
    core.product_tags;
ALTER TABLE core.products
    DROP CONSTRAINT products_product_group_fkey,
    DROP CONSTRAINT products_pack_size_has_unit,
    DROP COLUMN product_group_id,
    DROP COLUMN brand,
    DROP COLUMN origin,
    DROP COLUMN pack_size,
    DROP COLUMN pack_unit,
    DROP COLUMN min_sale_qty;
DROP TABLE core.product_groups;
ALTER TABLE core.customers DROP COLUMN price_tier;
DROP FUNCTION core.refuse_direct_received_quantity(), core.apply_purchase_receipt_line(),
    core.prepare_purchase_receipt(), core.apply_purchase_order_approval(),
    core.check_purchase_order_approval_level(), core.guard_purchase_order(),
    core.record_product_price_change(), core.sync_product_price(), core.check_price_change_is_newest(),
    core.refuse_history_rewrite();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
