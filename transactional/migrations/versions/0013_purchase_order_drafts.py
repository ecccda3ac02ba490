"""Draft purchase orders: replenishment suggestions become orders that procurement checks before sending.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"

# A draft is not sent and not on order: nothing reaches the supplier and no approval is asked
# until it is submitted. Its approval level is fixed at submission, from the amount of the lines
# procurement kept, so the rule "the level covers the amount" is checked then instead of at
# creation. The rest of the life of an order is unchanged.

UPGRADE = """
ALTER TABLE core.purchase_orders
    DROP CONSTRAINT purchase_orders_status_check,
    ADD CONSTRAINT purchase_orders_status_check CHECK (status IN (
        'draft', 'pending_approval', 'open', 'partially_received', 'received', 'rejected', 'cancelled')),
    DROP CONSTRAINT purchase_orders_pending_until_approved,
    ADD CONSTRAINT purchase_orders_pending_until_approved CHECK (
        (status = 'pending_approval') = (approved_level < required_approval_level)
        OR status IN ('draft', 'rejected', 'cancelled'));

CREATE OR REPLACE FUNCTION core.guard_purchase_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    supplier record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status NOT IN ('draft', 'pending_approval', 'open') OR NEW.approved_level <> 0 THEN
            RAISE EXCEPTION 'purchase order % must start draft, pending_approval or open unapproved, not % at level %',
                NEW.po_no, NEW.status, NEW.approved_level
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        IF NEW.required_approval_level <> OLD.required_approval_level AND OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'purchase order %: the required approval level is fixed when it is submitted', NEW.po_no
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.approved_level <> OLD.approved_level AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'purchase order %: approvals are recorded in core.purchase_order_approvals', NEW.po_no
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
            ('draft', 'pending_approval'), ('draft', 'open'), ('draft', 'cancelled'),
            ('pending_approval', 'open'), ('pending_approval', 'rejected'), ('pending_approval', 'cancelled'),
            ('open', 'partially_received'), ('open', 'received'), ('open', 'cancelled'),
            ('partially_received', 'received'), ('partially_received', 'cancelled')
        ) THEN
            RAISE EXCEPTION 'purchase order % cannot go from % to %', NEW.po_no, OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.supplier_id <> OLD.supplier_id
       OR (OLD.status IN ('draft', 'pending_approval') AND NEW.status IN ('pending_approval', 'open')
           AND NEW.status <> OLD.status) THEN
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

CREATE OR REPLACE FUNCTION core.check_purchase_order_approval_level() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    po record;
    amount numeric;
    needed smallint;
BEGIN
    SELECT purchase_order_id, merchant_id, po_no, status, required_approval_level INTO po
      FROM core.purchase_orders WHERE purchase_order_id = NEW.purchase_order_id;
    IF po.status = 'draft' OR NOT EXISTS (
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

CREATE CONSTRAINT TRIGGER purchase_orders_approval_level_on_submit
    AFTER UPDATE OF status ON core.purchase_orders DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status IN ('pending_approval', 'open'))
    EXECUTE FUNCTION core.check_purchase_order_approval_level();
"""

DOWNGRADE = """
DROP TRIGGER purchase_orders_approval_level_on_submit ON core.purchase_orders;
UPDATE core.purchase_orders SET status = 'cancelled' WHERE status = 'draft';
ALTER TABLE core.purchase_orders
    DROP CONSTRAINT purchase_orders_status_check,
    ADD CONSTRAINT purchase_orders_status_check CHECK (status IN (
        'pending_approval', 'open', 'partially_received', 'received', 'rejected', 'cancelled')),
    DROP CONSTRAINT purchase_orders_pending_until_approved,
    ADD CONSTRAINT purchase_orders_pending_until_approved CHECK (
        (status = 'pending_approval') = (approved_level < required_approval_level)
        OR status IN ('rejected', 'cancelled'));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
