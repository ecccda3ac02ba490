"""Errors the domain services raise; each message is meant to be shown to a user as it is."""


class DomainError(Exception):
    """A request the business rules refuse."""


class NotFound(DomainError):
    pass


class InsufficientStock(DomainError):
    def __init__(self, sku_code: str, warehouse_code: str, requested: int, available: int) -> None:
        self.sku_code = sku_code
        self.warehouse_code = warehouse_code
        self.requested = requested
        self.available = available
        super().__init__(
            f"insufficient stock for SKU {sku_code} in warehouse {warehouse_code}: "
            f"requested {requested}, available {available}"
        )


class InvalidTransition(DomainError):
    pass


class StockOperationRefused(DomainError):
    """A stock operation the ledger's rules refuse (unfreezing more than is frozen, a count below
    the reserved units, a transfer to the same warehouse, ...)."""


class IdempotencyKeyReused(DomainError):
    """An idempotency key sent again with a different request than the one it first guarded."""


class InvalidFunnelEvent(DomainError):
    pass


class InvalidRequest(DomainError):
    """A request whose values the catalogue, price or purchasing rules refuse (an unknown tier, a
    negative price, a promotion that ends before it starts, ...)."""


class BelowMinimumQuantity(DomainError):
    def __init__(self, sku_code: str, requested: int, minimum: int) -> None:
        self.sku_code = sku_code
        self.requested = requested
        self.minimum = minimum
        super().__init__(f"SKU {sku_code} is sold in quantities of at least {minimum}: requested {requested}")


class SupplierBlacklisted(DomainError):
    def __init__(self, supplier_code: str, reason: str) -> None:
        self.supplier_code = supplier_code
        self.reason = reason
        super().__init__(f"supplier {supplier_code} is blacklisted ({reason}): no purchase order may go to it")


class ImportRefused(DomainError):
    """An import file refused as a whole (too large, a zip bomb, XML entities, too many rows, a
    header without a required column): the message names the file and what is wrong."""


class ImportRejected(DomainError):
    """An import whose rows break the rules; nothing was written. `report` lists every bad row."""

    def __init__(self, message: str, report: object) -> None:
        self.report = report
        super().__init__(message)


class CreditLimitExceeded(DomainError):
    """A credit order its customer's credit line cannot carry (or a customer without one)."""


class CouponRefused(DomainError):
    """A coupon that does not apply to this order: unknown, expired, used up, below its threshold,
    or a new-customer coupon on a later order."""


class ReturnRefused(DomainError):
    """An after-sales return the rules refuse: outside its window, a category without no-reason
    returns, more units than were shipped and not yet returned, or a step out of order."""


class InvalidAmount(DomainError):
    """An amount or rate the money ledger refuses: more decimals than cents (four for rates), not
    positive, outside 3%–8%, or more than is owed, refundable or payable."""


class PeriodClosed(DomainError):
    """A sale or refund dated in a day that an issued settlement statement already covers."""
