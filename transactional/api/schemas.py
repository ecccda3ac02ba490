"""Request and response bodies. Clients speak in the codes they know (sku_code, customer_code,
warehouse_code, supplier_code, order_no, po_no), never in database ids. Money is a decimal string
with two places; times are ISO 8601 (naive times are Asia/Shanghai, the business time zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from transactional.limits import MAX_ORDER_AMOUNT, MAX_QUANTITY, MAX_UNIT_PRICE
from transactional.stock import BUSINESS_TIMEZONE

MAX_LINES = 200
MAX_FUNNEL_EVENTS = 10_000
# How far `at` may run ahead of the server's clock: room for a client's clock that is a little
# fast, too little for a future order to move its merchant's business date (as_of) or for a
# statement to close a period that has not ended.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
CENT = Decimal("0.01")
# PostgreSQL text cannot hold NUL, and no code or name needs a control character; free text keeps
# tab and line breaks.
CODE_FORBIDDEN = frozenset(chr(n) for n in [*range(0x20), 0x7F])
TEXT_FORBIDDEN = CODE_FORBIDDEN - {"\t", "\n", "\r"}


def _business_time_if_naive(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BUSINESS_TIMEZONE)


def _not_ahead_of_the_clock(moment: datetime) -> datetime:
    latest = datetime.now(UTC) + MAX_CLOCK_AHEAD
    if moment > latest:
        raise ValueError(
            f"is {moment.isoformat()}, in the future: a write happens now or earlier (at most "
            f"{MAX_CLOCK_AHEAD.seconds // 60} minutes ahead of the server's clock, {latest:%Y-%m-%d %H:%M:%S %Z})"
        )
    return moment


def _refusing(forbidden: frozenset[str]) -> AfterValidator:
    def check(value: str) -> str:
        found = sorted({f"U+{ord(character):04X}" for character in value if character in forbidden})
        if found:
            raise ValueError(f"contains the control character(s) {', '.join(found)}")
        return value

    return AfterValidator(check)


def _to_cents(amount: Decimal) -> Decimal:
    """One spelling per amount (98 and 98.00 alike), so equal requests hash alike."""
    return amount.quantize(CENT)


Moment = Annotated[datetime, AfterValidator(_business_time_if_naive)]
PastMoment = Annotated[Moment, AfterValidator(_not_ahead_of_the_clock)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), _refusing(CODE_FORBIDDEN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), _refusing(TEXT_FORBIDDEN)]
# See transactional.limits for why these bounds.
Money = Annotated[
    Decimal,
    Field(ge=0, le=MAX_ORDER_AMOUNT, decimal_places=2, description=f"CNY, at most {MAX_ORDER_AMOUNT}."),
    AfterValidator(_to_cents),
]
UnitPrice = Annotated[
    Decimal,
    Field(ge=0, le=MAX_UNIT_PRICE, decimal_places=2, description=f"CNY per unit, at most {MAX_UNIT_PRICE}."),
    AfterValidator(_to_cents),
]
# Strict: a JSON true would otherwise count as 1 unit, and "3" or 3.0 pass for 3.
Quantity = Annotated[
    int, Field(gt=0, le=MAX_QUANTITY, strict=True, description=f"Base units, at most {MAX_QUANTITY:,}.")
]
CountedQuantity = Annotated[
    int, Field(ge=0, le=MAX_QUANTITY, strict=True, description=f"Base units, at most {MAX_QUANTITY:,}.")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteRequest(Body):
    at: PastMoment | None = Field(
        default=None,
        description="When the operation happens (for back-dated trading); default: the server's current time. "
        f"At most {MAX_CLOCK_AHEAD.seconds // 60} minutes ahead of the server's clock.",
    )


class Problem(BaseModel):
    detail: str = Field(description="Why the request was refused, in words meant for the user.")


# Orders


class OrderLineIn(Body):
    sku_code: Code
    quantity: Quantity
    unit_price: UnitPrice | None = Field(default=None, description="Default: the SKU's current price.")
    discount_amount: Money = Decimal("0.00")


class PlaceOrder(WriteRequest):
    customer_code: Code
    warehouse_code: Code
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    order_no: Code | None = Field(default=None, description="Default: the next SO number.")
    payment_method: Literal["online", "credit", "prepaid", "cod"] = "online"
    credit_term_days: Literal[7, 15, 30] | None = Field(default=None, description="Required for credit orders.")
    coupon_code: Code | None = None
    stage: Literal["confirmed", "received"] = Field(
        default="confirmed",
        description="`confirmed`: received, reviewed (credit checked, stock reserved) and confirmed at once; "
        "`received`: recorded only, to be reviewed and confirmed later.",
    )


class OrderTransition(WriteRequest):
    pass


class CancelOrder(WriteRequest):
    reason: Text | None = None


class AllocationOut(BaseModel):
    lot_code: str
    expiry_date: date | None
    quantity: int


class OrderLineOut(BaseModel):
    line_no: int
    sku_code: str
    quantity: int
    unit_price: Decimal
    discount_amount: Decimal
    line_amount: Decimal
    allocations: list[AllocationOut]


class DiscountOut(BaseModel):
    source: str = Field(description="promotion, coupon or manual")
    code: str | None = Field(description="The promotion or coupon code")
    sku_code: str | None = Field(description="The line it applies to; null for a discount on the whole order")
    amount: Decimal


class OrderOut(BaseModel):
    order_no: str
    status: str
    source: str = Field(description="platform, or import for order history brought from another system")
    external_order_code: str | None = Field(description="the other system's order code, for an imported order")
    customer_code: str
    warehouse_code: str | None = Field(description="None for imported history, which never moved stock")
    payment_method: str
    credit_term_days: int | None
    total_amount: Decimal
    ordered_at: datetime
    reviewed_at: datetime | None
    confirmed_at: datetime | None
    picked_at: datetime | None
    shipped_at: datetime | None
    in_transit_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    lines: list[OrderLineOut]
    discounts: list[DiscountOut]


# Returns


class ReturnLineIn(Body):
    line_no: Annotated[int, Field(ge=1)]
    quantity: Quantity


class RequestReturn(WriteRequest):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    reason: Literal["no_reason", "quality_defect"] = Field(
        description="no_reason: within 7 days of delivery, not for food and farm inputs; quality_defect: 15 days."
    )
    note: Text | None = None


class ReturnStep(WriteRequest):
    pass


class ReturnLineOut(BaseModel):
    line_no: int
    sku_code: str
    quantity: int
    refund_amount: Decimal | None


class ReturnOut(BaseModel):
    return_no: str
    order_no: str
    reason: str
    note: str | None
    status: str
    requested_at: datetime
    approved_at: datetime | None
    rejected_at: datetime | None
    received_at: datetime | None
    refunded_at: datetime | None
    refund_amount: Decimal | None
    lines: list[ReturnLineOut]


# Stock


class StockLevel(BaseModel):
    sku_code: str
    warehouse_code: str
    on_hand: int
    reserved: int
    frozen: int
    available: int = Field(
        description="on_hand - reserved - frozen of the batches not yet at their expiry date: what can still be sold."
    )
    expired: int = Field(
        description="Units on hand, not reserved, in batches at or past their expiry date: to write off."
    )
    batches: int = Field(description="Batches with units on hand.")
    earliest_expiry: date | None


class StockReceipt(WriteRequest):
    warehouse_code: Code
    sku_code: Code
    quantity: Quantity
    unit_cost: UnitPrice | None = Field(default=None, description="Default: the SKU's current unit cost.")
    lot_code: Code | None = Field(default=None, description="Default: a generated lot code.")
    expiry_date: date | None = Field(default=None, description="Default: receipt date plus the SKU's shelf life.")


class BatchLevel(BaseModel):
    sku_code: str
    warehouse_code: str
    lot_code: str
    expiry_date: date | None
    on_hand: int
    reserved: int
    frozen: int
    available: int = Field(description="on_hand - reserved - frozen; 0 from the batch's expiry date on.")


class BatchQuantity(WriteRequest):
    warehouse_code: Code
    sku_code: Code
    lot_code: Code
    quantity: Quantity


class FreezeStock(BatchQuantity):
    reason: Text


class WriteOffStock(BatchQuantity):
    reason: Text
    from_frozen: bool = Field(default=False, description="Write off frozen units (a hold ending in disposal).")


class TransferStock(WriteRequest):
    sku_code: Code
    from_warehouse_code: Code
    to_warehouse_code: Code
    quantity: Quantity
    note: Text | None = None


class TransferOut(BaseModel):
    transfer_id: int
    quantity: int
    levels: list[StockLevel] = Field(description="The SKU in both warehouses after the transfer.")


class CountedBatch(Body):
    sku_code: Code
    lot_code: Code
    counted_quantity: CountedQuantity


class Stocktake(WriteRequest):
    warehouse_code: Code
    counts: list[CountedBatch] = Field(
        min_length=1, max_length=MAX_LINES * 10, description="Each batch (SKU and lot) once."
    )
    note: Text | None = None

    @model_validator(mode="after")
    def _each_batch_once(self) -> Stocktake:
        first_row: dict[tuple[str, str], int] = {}
        for row, counted in enumerate(self.counts):
            batch = (counted.sku_code, counted.lot_code)
            if batch in first_row:
                raise ValueError(
                    f"counts[{first_row[batch]}] and counts[{row}] both count SKU {counted.sku_code} batch "
                    f"{counted.lot_code}: count each batch once"
                )
            first_row[batch] = row
        return self


class StocktakeOut(BaseModel):
    stocktake_id: int
    batches: list[BatchLevel] = Field(description="The counted batches after the adjustment.")


class ExpiryWriteOff(WriteRequest):
    warehouse_code: Code | None = Field(default=None, description="Default: every warehouse.")


class ExpiredBatchOut(BaseModel):
    sku_code: str
    warehouse_code: str
    lot_code: str
    expiry_date: date | None
    written_off: int
    still_reserved: int = Field(description="Units left with their orders until shipped or cancelled.")


class ExpiryWriteOffOut(BaseModel):
    batches: list[ExpiredBatchOut]


class BatchOut(BaseModel):
    lot_code: str
    sku_code: str
    warehouse_code: str
    quantity: int
    unit_cost: Decimal
    received_at: datetime
    expiry_date: date | None


# Purchasing


class PurchaseLineIn(Body):
    sku_code: Code
    quantity: Quantity
    unit_cost: UnitPrice | None = Field(default=None, description="Default: the supplier agreement's, else the SKU's.")


class CreatePurchaseOrder(WriteRequest):
    supplier_code: Code
    warehouse_code: Code
    lines: list[PurchaseLineIn] = Field(min_length=1, max_length=MAX_LINES)
    expected_at: Moment | None = Field(default=None, description="Default: `at` plus the supplier's lead time.")
    draft: bool = Field(
        default=False,
        description="Create a draft (status draft) to review and submit later instead of sending the order; "
        "a draft is not on order and needs no approval yet.",
    )


class DeliveredLine(Body):
    sku_code: Code
    delivered_quantity: Quantity
    rejected_quantity: CountedQuantity = Field(
        default=0, description="Units that failed inspection; they stay outstanding."
    )
    rejection_reason: Text | None = Field(default=None, description="Required when units are rejected.")


class ReceivePurchaseOrder(WriteRequest):
    lines: list[DeliveredLine] | None = Field(
        default=None, max_length=MAX_LINES, description="Default: everything outstanding, all passing inspection."
    )


class ApprovalDecision(WriteRequest):
    approver: Text
    level: Annotated[int, Field(ge=1, le=9)]
    note: Text | None = None


class ApprovalRejection(WriteRequest):
    approver: Text
    level: Annotated[int, Field(ge=1, le=9)]
    reason: Text


class PurchaseOrderCancellation(WriteRequest):
    pass


class CreditLine(WriteRequest):
    credit_limit: Money | None = Field(
        description="The most the customer may owe on credit orders; null withdraws the credit line."
    )


class CustomerCreditOut(BaseModel):
    customer_code: str
    credit_limit: Decimal | None = Field(description="Null: no credit line, so credit orders are refused.")
    owed_on_credit: Decimal = Field(description="Credit orders not cancelled, less their payments and refunds.")
    available: Decimal | None = Field(description="credit_limit − owed_on_credit, at least 0.")


class PurchaseDraftSubmission(WriteRequest):
    pass


class PurchaseLineOut(BaseModel):
    sku_code: str
    quantity: int
    unit_cost: Decimal
    received_quantity: int


PurchaseOrderStatus = Literal[
    "draft", "pending_approval", "open", "partially_received", "received", "rejected", "cancelled"
]


class PurchaseOrderOut(BaseModel):
    po_no: str
    status: str
    required_approval_level: int
    approved_level: int
    supplier_code: str
    warehouse_code: str
    ordered_at: datetime
    expected_at: datetime
    received_at: datetime | None
    lines: list[PurchaseLineOut]


class PurchaseReceiptOut(BaseModel):
    purchase_order: PurchaseOrderOut
    on_time: bool
    days_late: int
    delivered_quantity: int
    passed_quantity: int
    rejected_quantity: int
    batches: list[BatchOut] = Field(description="One new batch per SKU with units that passed inspection.")


# Funnel


class FunnelEventIn(Body):
    occurred_at: Moment
    session_id: Annotated[int, Field(gt=0, lt=2**63)]
    event_type: Literal["exposure", "visit", "product_view", "cart_add", "purchase"]
    customer_code: Code | None = Field(default=None, description="Absent for anonymous visitors.")
    sku_code: Code | None = Field(default=None, description="Required for product_view and cart_add.")
    order_no: Code | None = Field(default=None, description="Required for purchase.")


class FunnelBatch(WriteRequest):
    events: list[FunnelEventIn] = Field(min_length=1, max_length=MAX_FUNNEL_EVENTS)


class FunnelAccepted(BaseModel):
    accepted: int


# Prices

Tier = Literal["retail", "wholesale", "member"]
Region = Code
Percent = Annotated[Decimal, Field(gt=0, lt=100, max_digits=5, decimal_places=2)]


class SetPrice(WriteRequest):
    unit_price: UnitPrice
    tier: Tier = "retail"
    region: Region | None = Field(default=None, description="Default: the national price.")
    min_quantity: Quantity = Field(
        default=1, description="The quantity break: the price applies from this many units on."
    )


class PriceChangeOut(BaseModel):
    sku_code: str
    tier: str
    region: str | None
    min_quantity: int
    unit_price: Decimal | None = Field(description="Null: the price was withdrawn from `valid_from` on.")
    valid_from: datetime


class SetPromotionPrice(WriteRequest):
    promotion_price: UnitPrice
    valid_from: Moment
    valid_until: Moment
    tier: Tier | None = Field(default=None, description="Default: every tier.")
    region: Region | None = Field(default=None, description="Default: every region.")
    label: Text | None = None


class PromotionPriceOut(BaseModel):
    sku_code: str
    promotion_price: Decimal
    valid_from: datetime
    valid_until: datetime
    tier: str | None
    region: str | None
    label: str | None
    recorded_at: datetime


class SetUnitCost(WriteRequest):
    unit_cost: UnitPrice


class UnitCostOut(BaseModel):
    sku_code: str
    unit_cost: Decimal
    valid_from: datetime


class QuoteOut(BaseModel):
    sku_code: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    list_price: Decimal = Field(
        description="The national retail single-unit price: what a discount is measured against."
    )
    rule: str = Field(description="What gave the unit price: promotion, regional, quantity_break or base.")
    tier: str = Field(description="The tier that applied (a tier price above retail falls back to retail).")
    region: str | None
    min_quantity: int
    at: datetime


# Promotions and coupons


class PromotionBase(WriteRequest):
    promotion_code: Code
    name: Text
    starts_at: Moment
    ends_at: Moment


class ScopedPromotion(PromotionBase):
    sku_code: Code | None = Field(default=None, description="Only this SKU.")
    category_code: Code | None = Field(default=None, description="Only this category (any level of the tree).")

    @model_validator(mode="after")
    def _one_scope(self) -> ScopedPromotion:
        if self.sku_code is not None and self.category_code is not None:
            raise ValueError("a promotion applies to one SKU or one category, not both")
        return self


class FullReduction(ScopedPromotion):
    kind: Literal["full_reduction"]
    threshold_amount: Money
    reduction_amount: Money
    repeat_per_threshold: bool = Field(default=False, description="Once per full threshold spent.")


class PercentageDiscount(ScopedPromotion):
    kind: Literal["percentage"]
    percent_off: Percent = Field(description="10 = 10 % off.")


class FlashSale(PromotionBase):
    kind: Literal["flash_sale"]
    sku_code: Code
    flash_price: UnitPrice
    quantity_cap: Quantity
    per_customer_limit: Quantity | None = None


CreatePromotion = Annotated[FullReduction | PercentageDiscount | FlashSale, Field(discriminator="kind")]


class PromotionOut(BaseModel):
    promotion_code: str
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    sku_code: str | None
    category_code: str | None
    threshold_amount: Decimal | None
    reduction_amount: Decimal | None
    repeat_per_threshold: bool
    percent_off: Decimal | None
    flash_price: Decimal | None
    quantity_cap: int | None
    sold_quantity: int | None
    per_customer_limit: int | None


class CreateCoupon(WriteRequest):
    coupon_code: Code
    name: Text
    valid_from: Moment
    valid_until: Moment
    amount_off: Money | None = Field(default=None, description="Either this or percent_off.")
    percent_off: Percent | None = None
    threshold_amount: Money = Decimal("0.00")
    per_customer_limit: Quantity = 1
    total_quantity: Quantity | None = Field(default=None, description="Default: unlimited.")
    new_customers_only: bool = False


class CouponOut(BaseModel):
    coupon_code: str
    name: str
    valid_from: datetime
    valid_until: datetime
    amount_off: Decimal | None
    percent_off: Decimal | None
    threshold_amount: Decimal
    per_customer_limit: int
    total_quantity: int | None
    new_customers_only: bool


# Money


class RecordPayment(WriteRequest):
    amount: Money
    method: Literal["online", "credit", "prepaid", "cod"] | None = Field(
        default=None, description="Default: the method the order was settled with, else the order's own."
    )
    reference: Text | None = None


class PaymentOut(BaseModel):
    order_no: str
    method: str
    amount: Decimal
    paid_at: datetime
    reference: str | None
    still_owed: Decimal = Field(description="What the order owes after this payment.")


class ReceivableOut(BaseModel):
    order_no: str
    customer_code: str
    payment_method: str
    credit_term_days: int | None
    due_date: date
    gross_amount: Decimal
    paid_amount: Decimal
    refunded_against_amount: Decimal
    open_amount: Decimal
    days_overdue: int


StatementKind = Literal["daily", "weekly", "monthly"]


class GenerateStatement(WriteRequest):
    kind: StatementKind
    period_start: date = Field(description="A day; for weekly a Monday, for monthly the 1st.")


class StatementOut(BaseModel):
    kind: str
    period_start: date
    period_end: date
    order_count: int
    refund_count: int
    gross_sales: Decimal
    commission: Decimal
    refunds: Decimal
    commission_refunded: Decimal
    net_payable: Decimal = Field(description="gross_sales - commission - refunds + commission_refunded")
    payout_working_days: int
    payout_due_date: date
    generated_at: datetime


# Suppliers


class SupplierGrade(WriteRequest):
    grade: Literal["A", "B", "C", "D"] = Field(description="A best, D worst.")


class BlacklistSupplier(WriteRequest):
    reason: Text


class LiftBlacklist(WriteRequest):
    pass


class SupplierOut(BaseModel):
    supplier_code: str
    name: str
    lead_time_days: int
    qualification_grade: str | None
    is_blacklisted: bool
    blacklist_reason: str | None
    blacklisted_at: datetime | None


class ApprovalRule(WriteRequest):
    required_level: Annotated[int, Field(ge=1, le=9)]
    min_amount: Money = Field(description="Purchase orders of at least this amount need approval up to the level.")


class ApprovalRuleOut(BaseModel):
    required_level: int
    min_amount: Decimal
