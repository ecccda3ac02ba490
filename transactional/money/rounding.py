"""The rounding rules of the money ledger. Everything is integer cents (分); floats never appear.

1. **Amounts** in CNY carry at most two decimals and are stored as integer cents. An amount with
   more decimals is refused, never rounded silently.
2. **Commission on a sale line** = round half up(line gross cents × rate), each line on its own
   (a line's category sets its rate). Rates have four decimals, so the product is exact before
   rounding: 12.50 CNY at 3.5% = 43.75 cents → 44; 10.10 CNY at 5% = 50.5 cents → 51;
   10.09 CNY at 5% = 50.45 cents → 50.
3. **Spreading an amount over lines** (an order total below the sum of its lines after an
   order-level discount; a refund that names no line) uses the largest-remainder method: each
   line first gets floor(amount × weight ÷ total weight); the cents left over go one each to the
   lines with the largest remainders, ties to the earlier line. The shares always add up to the
   amount exactly. The weights are the line amounts (gross) or what is still refundable on each
   line (refunds).
4. **Commission reversed by refunds** is pro rata and cumulative: once refunds totalling R cents
   have been made on a line of gross G with commission C, the commission reversed on that line in
   total is round half up(C × R ÷ G); each refund reverses the difference from the total before
   it. Partial refunds therefore never drift: a line refunded in full, in any number of steps,
   gives back exactly its commission. Example: G = 1000, C = 50, refunds 333 + 333 + 334 reverse
   17 + 16 + 17 = 50 (totals round(16.65) = 17, round(33.3) = 33, round(50) = 50).

PostgreSQL enforces rules 2 and 4 with CHECK constraints on core.sale_lines, so no write path
can post a commission the rules would not give.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from transactional.errors import InvalidAmount

RATE_SCALE = 10_000  # rates have four decimals


def to_cents(amount: Decimal | int | str, what: str) -> int:
    """CNY with at most two decimals as integer cents; `what` names the amount in the error."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount(f"{what}: {amount!r} is not an amount of money") from None
    cents = value * 100
    if not value.is_finite() or cents != cents.to_integral_value():
        raise InvalidAmount(f"{what}: {amount} has more than two decimals")
    return int(cents)


def to_amount(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def rate_in_ten_thousandths(rate: Decimal) -> int:
    scaled = Decimal(rate) * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"commission rate {rate} has more than four decimals")
    return int(scaled)


def round_half_up_ratio(numerator: int, denominator: int) -> int:
    """round half up(numerator ÷ denominator) for non-negative integers, exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def line_commission_cents(gross_cents: int, rate: Decimal) -> int:
    """Rule 2."""
    return round_half_up_ratio(gross_cents * rate_in_ten_thousandths(rate), RATE_SCALE)


def commission_reversed_cents(commission_cents: int, gross_cents: int, refunded_cents: int) -> int:
    """Rule 4: the commission reversed in total once `refunded_cents` of the line are refunded."""
    if gross_cents == 0:
        return 0
    return round_half_up_ratio(commission_cents * refunded_cents, gross_cents)


def allocate(amount_cents: int, weights: list[int]) -> list[int]:
    """Rule 3: split `amount_cents` over `weights` by largest remainder, ties to the earlier one.

    With all weights zero the whole amount goes to the first share.
    """
    total_weight = sum(weights)
    if total_weight == 0:
        return [amount_cents if i == 0 else 0 for i in range(len(weights))]
    shares = [amount_cents * weight // total_weight for weight in weights]
    left_over = amount_cents - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount_cents * weights[i] % total_weight), i))
    for i in by_remainder[:left_over]:
        shares[i] += 1
    return shares
