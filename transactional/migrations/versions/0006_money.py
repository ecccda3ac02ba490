"""Money: payments, credit terms, commission, settlement statements, payouts, double-entry journal.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"

# What PostgreSQL guarantees here, whatever the write path:
# - every journal entry balances (a deferred constraint trigger, checked at commit, so an entry's
#   lines may be inserted one by one); each line has exactly one non-zero side, in integer cents;
# - the journal, payments, sales, refunds, payouts, statements and the rate history are
#   append-only; a sale line changes only through the refund ledger's trigger;
# - a sale line's commission is round-half-up(gross cents x rate), and after every refund the
#   commission reversed on the line is round-half-up(commission x refunded / gross) (the
#   cumulative pro-rata rule of transactional/money/rounding.py); no line is refunded beyond its
#   gross; a sale's gross and a refund's amount are the sums of their lines;
# - each payment, sale, refund and payout points at a journal entry of its own type (a generated
#   constant column joins the foreign key);
# - a trade appears in at most one statement of each kind, and no sale or refund is posted into a
#   day a statement already covers (posting takes a shared advisory lock per merchant, statement
#   generation an exclusive one, so nothing slips in while a statement is being written).
# Checks that read other rows run as the owner (SECURITY DEFINER), so row security on the
# application role cannot hide from them the rows they must see.
UPGRADE = """
ALTER TABLE core.merchants
    ADD COLUMN payout_working_days smallint NOT NULL DEFAULT 1 CHECK (payout_working_days IN (1, 3));

-- Network-wide: the platform's rate for a category (category NULL: the default for every category
-- with no rate of its own, its parent's or its top level's).
CREATE TABLE core.commission_rates (
    commission_rate_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id     bigint REFERENCES core.categories,
    rate            numeric(5, 4) NOT NULL CHECK (rate BETWEEN 0.03 AND 0.08),
    valid_from      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT commission_rates_one_per_start UNIQUE NULLS NOT DISTINCT (category_id, valid_from)
);
INSERT INTO core.commission_rates (category_id, rate, valid_from, created_at)
VALUES (NULL, 0.0500, '2000-01-01 00:00+08', '2000-01-01 00:00+08');

CREATE TABLE core.journal_entries (
    journal_entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    entry_type      text NOT NULL CHECK (entry_type IN ('payment', 'sale', 'refund', 'payout')),
    order_id        bigint,
    posted_at       timestamptz NOT NULL,
    memo            text,
    UNIQUE (journal_entry_id, merchant_id),
    UNIQUE (journal_entry_id, merchant_id, entry_type),
    CHECK ((entry_type = 'payout') = (order_id IS NULL)),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id)
);
CREATE INDEX journal_entries_merchant_posted_idx ON core.journal_entries (merchant_id, posted_at);
CREATE INDEX journal_entries_order_idx ON core.journal_entries (order_id) WHERE order_id IS NOT NULL;

-- The chart of accounts is a CHECK rather than a table: a foreign key would lock one of four hot
-- rows for every line written.
CREATE TABLE core.journal_lines (
    journal_line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journal_entry_id bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    account         text NOT NULL CHECK (account IN (
                        'platform_cash', 'customer_receivable', 'merchant_payable', 'commission_revenue')),
    debit_cents     bigint NOT NULL DEFAULT 0 CHECK (debit_cents >= 0),
    credit_cents    bigint NOT NULL DEFAULT 0 CHECK (credit_cents >= 0),
    CONSTRAINT journal_line_one_side CHECK ((debit_cents = 0) <> (credit_cents = 0)),
    FOREIGN KEY (journal_entry_id, merchant_id) REFERENCES core.journal_entries (journal_entry_id, merchant_id)
);
CREATE INDEX journal_lines_entry_idx ON core.journal_lines (journal_entry_id);
CREATE INDEX journal_lines_merchant_account_idx ON core.journal_lines (merchant_id, account);

CREATE TABLE core.payments (
    payment_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    order_id        bigint NOT NULL,
    method          text NOT NULL CHECK (method IN ('online', 'credit', 'prepaid', 'cod')),
    amount          numeric(14, 2) NOT NULL CHECK (amount > 0),
    paid_at         timestamptz NOT NULL,
    reference       text,
    journal_entry_id bigint NOT NULL UNIQUE,
    entry_type      text GENERATED ALWAYS AS ('payment') STORED,
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (journal_entry_id, merchant_id, entry_type)
        REFERENCES core.journal_entries (journal_entry_id, merchant_id, entry_type)
);
CREATE INDEX payments_order_idx ON core.payments (order_id);

-- An order settled to its merchant: the receivable it leaves (due date by credit term) and the
-- gross the commission was charged on.
CREATE TABLE core.sales (
    order_id        bigint PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    payment_method  text NOT NULL CHECK (payment_method IN ('online', 'credit', 'prepaid', 'cod')),
    credit_term_days smallint CHECK (credit_term_days IN (7, 15, 30)),
    receivable_due_date date NOT NULL,
    gross_cents     bigint NOT NULL CHECK (gross_cents >= 0),
    settled_at      timestamptz NOT NULL,
    journal_entry_id bigint NOT NULL UNIQUE,
    entry_type      text GENERATED ALWAYS AS ('sale') STORED,
    UNIQUE (order_id, merchant_id),
    CHECK ((payment_method = 'credit') = (credit_term_days IS NOT NULL)),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id),
    FOREIGN KEY (journal_entry_id, merchant_id, entry_type)
        REFERENCES core.journal_entries (journal_entry_id, merchant_id, entry_type)
);
CREATE INDEX sales_merchant_settled_idx ON core.sales (merchant_id, settled_at);

-- category_id records which leaf's rate applied; no foreign key, which would lock hot category
-- rows on every sale.
CREATE TABLE core.sale_lines (
    order_line_id   bigint PRIMARY KEY,
    order_id        bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    category_id     bigint NOT NULL,
    commission_rate numeric(5, 4) NOT NULL CHECK (commission_rate BETWEEN 0.03 AND 0.08),
    gross_cents     bigint NOT NULL CHECK (gross_cents >= 0),
    commission_cents bigint NOT NULL,
    refunded_cents  bigint NOT NULL DEFAULT 0,
    commission_refunded_cents bigint NOT NULL DEFAULT 0,
    UNIQUE (order_line_id, order_id, merchant_id),
    CONSTRAINT sale_line_commission_rounding CHECK (commission_cents = round(gross_cents * commission_rate)),
    CONSTRAINT sale_line_refund_within_gross CHECK (refunded_cents BETWEEN 0 AND gross_cents),
    CONSTRAINT sale_line_commission_refund_pro_rata CHECK (
        commission_refunded_cents = CASE WHEN gross_cents = 0 THEN 0
            ELSE div(2 * commission_cents::numeric * refunded_cents + gross_cents, 2 * gross_cents::numeric) END),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.sales (order_id, merchant_id),
    FOREIGN KEY (order_line_id, merchant_id) REFERENCES core.order_lines (order_line_id, merchant_id)
);
CREATE INDEX sale_lines_order_idx ON core.sale_lines (order_id);

-- offset_cents is set against what the customer still owed on the order, cash_cents is paid back.
CREATE TABLE core.refunds (
    refund_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    order_id        bigint NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    offset_cents    bigint NOT NULL CHECK (offset_cents >= 0),
    cash_cents      bigint NOT NULL CHECK (cash_cents >= 0),
    refunded_at     timestamptz NOT NULL,
    reference       text,
    reason          text,
    journal_entry_id bigint NOT NULL UNIQUE,
    entry_type      text GENERATED ALWAYS AS ('refund') STORED,
    UNIQUE (refund_id, order_id, merchant_id),
    UNIQUE (merchant_id, reference),
    CHECK (offset_cents + cash_cents = amount_cents),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.sales (order_id, merchant_id),
    FOREIGN KEY (journal_entry_id, merchant_id, entry_type)
        REFERENCES core.journal_entries (journal_entry_id, merchant_id, entry_type)
);
CREATE INDEX refunds_order_idx ON core.refunds (order_id);

-- Payments never exceed what an order owes (its total less what was paid and less refunds set
-- against the debt). Payments on one order queue on the order's row, so two concurrent ones
-- cannot each see room for themselves; earlier rows of a multi-row insert are visible here.
CREATE FUNCTION core.refuse_overpayment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    order_no text;
    still_owed numeric;
BEGIN
    SELECT o.order_no,
           o.total_amount
           - COALESCE((SELECT sum(p.amount) FROM core.payments p WHERE p.order_id = o.order_id), 0)
           - COALESCE((SELECT sum(r.offset_cents) FROM core.refunds r WHERE r.order_id = o.order_id), 0) / 100.0
      INTO order_no, still_owed
      FROM core.orders o WHERE o.order_id = NEW.order_id
       FOR UPDATE;
    IF NEW.amount > still_owed THEN
        RAISE EXCEPTION 'payment of % CNY for order % is more than the % CNY it still owes',
            NEW.amount, order_no, round(greatest(still_owed, 0), 2)
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payments_within_what_is_owed
    BEFORE INSERT ON core.payments
    FOR EACH ROW EXECUTE FUNCTION core.refuse_overpayment();
CREATE INDEX refunds_merchant_refunded_idx ON core.refunds (merchant_id, refunded_at);

CREATE TABLE core.refund_lines (
    refund_id       bigint NOT NULL,
    order_line_id   bigint NOT NULL,
    order_id        bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    commission_cents bigint NOT NULL CHECK (commission_cents >= 0),
    PRIMARY KEY (refund_id, order_line_id),
    FOREIGN KEY (refund_id, order_id, merchant_id) REFERENCES core.refunds (refund_id, order_id, merchant_id),
    FOREIGN KEY (order_line_id, order_id, merchant_id)
        REFERENCES core.sale_lines (order_line_id, order_id, merchant_id)
);
CREATE INDEX refund_lines_line_idx ON core.refund_lines (order_line_id);

CREATE TABLE core.settlement_statements (
    settlement_statement_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    kind            text NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly')),
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    order_count     integer NOT NULL CHECK (order_count >= 0),
    refund_count    integer NOT NULL CHECK (refund_count >= 0),
    gross_sales_cents bigint NOT NULL CHECK (gross_sales_cents >= 0),
    commission_cents bigint NOT NULL CHECK (commission_cents >= 0),
    refunds_cents   bigint NOT NULL CHECK (refunds_cents >= 0),
    commission_refunded_cents bigint NOT NULL CHECK (commission_refunded_cents >= 0),
    net_payable_cents bigint NOT NULL,
    payout_working_days smallint NOT NULL CHECK (payout_working_days IN (1, 3)),
    payout_due_date date NOT NULL CHECK (payout_due_date > period_end),
    generated_at    timestamptz NOT NULL,
    UNIQUE (merchant_id, kind, period_start),
    UNIQUE (settlement_statement_id, merchant_id),
    UNIQUE (settlement_statement_id, merchant_id, kind),
    CHECK (net_payable_cents = gross_sales_cents - commission_cents - refunds_cents + commission_refunded_cents),
    CHECK (CASE kind
        WHEN 'daily' THEN period_end = period_start
        WHEN 'weekly' THEN extract(isodow FROM period_start) = 1 AND period_end = period_start + 6
        ELSE extract(day FROM period_start) = 1
             AND period_end = (period_start + interval '1 month')::date - 1 END)
);
CREATE INDEX settlement_statements_period_idx ON core.settlement_statements (merchant_id, period_end);

-- The primary key is what keeps a trade out of a second statement of the same kind.
CREATE TABLE core.settlement_statement_entries (
    kind            text NOT NULL,
    journal_entry_id bigint NOT NULL,
    settlement_statement_id bigint NOT NULL,
    merchant_id     bigint NOT NULL,
    entry_type      text NOT NULL CHECK (entry_type IN ('sale', 'refund')),
    PRIMARY KEY (kind, journal_entry_id),
    FOREIGN KEY (settlement_statement_id, merchant_id, kind)
        REFERENCES core.settlement_statements (settlement_statement_id, merchant_id, kind),
    FOREIGN KEY (journal_entry_id, merchant_id, entry_type)
        REFERENCES core.journal_entries (journal_entry_id, merchant_id, entry_type)
);
CREATE INDEX settlement_statement_entries_statement_idx ON core.settlement_statement_entries (settlement_statement_id);

CREATE TABLE core.payouts (
    payout_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    paid_at         timestamptz NOT NULL,
    settlement_statement_id bigint UNIQUE,
    reference       text,
    journal_entry_id bigint NOT NULL UNIQUE,
    entry_type      text GENERATED ALWAYS AS ('payout') STORED,
    FOREIGN KEY (settlement_statement_id, merchant_id)
        REFERENCES core.settlement_statements (settlement_statement_id, merchant_id),
    FOREIGN KEY (journal_entry_id, merchant_id, entry_type)
        REFERENCES core.journal_entries (journal_entry_id, merchant_id, entry_type)
);
CREATE INDEX payouts_merchant_paid_idx ON core.payouts (merchant_id, paid_at);

CREATE FUNCTION core.check_journal_entry_balances() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    debits numeric;
    credits numeric;
BEGIN
    SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0) INTO debits, credits
      FROM core.journal_lines WHERE journal_entry_id = NEW.journal_entry_id;
    IF debits <> credits THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits % cents, credits % cents',
            NEW.journal_entry_id, debits, credits USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER journal_entry_balances
    AFTER INSERT ON core.journal_lines DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.check_journal_entry_balances();

CREATE FUNCTION core.check_sale_gross_is_sum_of_lines() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lines_gross numeric;
BEGIN
    SELECT coalesce(sum(gross_cents), 0) INTO lines_gross FROM core.sale_lines WHERE order_id = NEW.order_id;
    IF lines_gross <> NEW.gross_cents THEN
        RAISE EXCEPTION 'sale of order %: gross % cents but its lines add up to % cents',
            NEW.order_id, NEW.gross_cents, lines_gross USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER sale_gross_is_sum_of_lines
    AFTER INSERT ON core.sales DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.check_sale_gross_is_sum_of_lines();

CREATE FUNCTION core.check_refund_amount_is_sum_of_lines() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lines_amount numeric;
BEGIN
    SELECT coalesce(sum(amount_cents), 0) INTO lines_amount FROM core.refund_lines WHERE refund_id = NEW.refund_id;
    IF lines_amount <> NEW.amount_cents THEN
        RAISE EXCEPTION 'refund %: amount % cents but its lines add up to % cents',
            NEW.refund_id, NEW.amount_cents, lines_amount USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER refund_amount_is_sum_of_lines
    AFTER INSERT ON core.refunds DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.check_refund_amount_is_sum_of_lines();

-- The refund ledger drives the sale line's running totals, whose CHECKs then refuse a refund
-- beyond the gross or a commission share off the cumulative rule.
CREATE FUNCTION core.apply_refund_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE core.sale_lines
       SET refunded_cents = refunded_cents + NEW.amount_cents,
           commission_refunded_cents = commission_refunded_cents + NEW.commission_cents
     WHERE order_line_id = NEW.order_line_id;
    RETURN NEW;
END $$;

CREATE TRIGGER refund_lines_apply
    AFTER INSERT ON core.refund_lines
    FOR EACH ROW EXECUTE FUNCTION core.apply_refund_line();

CREATE FUNCTION core.refuse_direct_sale_line_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2
       OR (NEW.order_line_id, NEW.order_id, NEW.merchant_id, NEW.category_id, NEW.commission_rate,
           NEW.gross_cents, NEW.commission_cents)
          IS DISTINCT FROM
          (OLD.order_line_id, OLD.order_id, OLD.merchant_id, OLD.category_id, OLD.commission_rate,
           OLD.gross_cents, OLD.commission_cents) THEN
        RAISE EXCEPTION 'core.sale_lines changes only through refunds: write core.refund_lines instead'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER sale_lines_only_via_refunds
    BEFORE UPDATE ON core.sale_lines
    FOR EACH ROW EXECUTE FUNCTION core.refuse_direct_sale_line_update();

-- A day some statement covers is closed to sales and refunds; the shared lock waits for a
-- statement being generated (exclusive lock) to commit, so its check sees that statement.
CREATE FUNCTION core.settlement_lock_key(merchant_id bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (merchant_id % 2147483647)::integer $$;

CREATE FUNCTION core.refuse_posting_into_settled_period() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    business_day date := (NEW.posted_at AT TIME ZONE 'Asia/Shanghai')::date;
    closing record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('core.settlement_statements'),
                                         core.settlement_lock_key(NEW.merchant_id));
    SELECT kind, period_start, period_end INTO closing
      FROM core.settlement_statements
     WHERE merchant_id = NEW.merchant_id AND business_day BETWEEN period_start AND period_end
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'merchant %: % dated % falls in the % statement for % to %, already issued',
            NEW.merchant_id, NEW.entry_type, business_day, closing.kind, closing.period_start, closing.period_end
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER journal_entries_open_period
    BEFORE INSERT ON core.journal_entries
    FOR EACH ROW WHEN (NEW.entry_type IN ('sale', 'refund'))
    EXECUTE FUNCTION core.refuse_posting_into_settled_period();

CREATE FUNCTION core.refuse_money_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE
    ledger text;
BEGIN
    FOREACH ledger IN ARRAY ARRAY['commission_rates', 'journal_entries', 'journal_lines', 'payments', 'sales',
                                  'refunds', 'refund_lines', 'settlement_statements',
                                  'settlement_statement_entries', 'payouts']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON core.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_money_rewrite()',
                       ledger || '_append_only', ledger);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON core.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_money_rewrite()',
                       ledger || '_no_truncate', ledger);
    END LOOP;
END $$;

CREATE TRIGGER sale_lines_no_delete
    BEFORE DELETE OR TRUNCATE ON core.sale_lines
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_money_rewrite();
"""

DOWNGRADE = """
DROP TABLE core.payouts, core.settlement_statement_entries, core.settlement_statements, core.refund_lines,
    core.refunds, core.sale_lines, core.sales, core.payments, core.journal_lines, core.journal_entries,
    core.commission_rates;
DROP FUNCTION core.check_journal_entry_balances(), core.check_sale_gross_is_sum_of_lines(),
    core.check_refund_amount_is_sum_of_lines(), core.apply_refund_line(), core.refuse_direct_sale_line_update(),
    core.refuse_posting_into_settled_period(), core.settlement_lock_key(bigint), core.refuse_money_rewrite(),
    core.refuse_overpayment();
ALTER TABLE core.merchants DROP COLUMN payout_working_days;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
