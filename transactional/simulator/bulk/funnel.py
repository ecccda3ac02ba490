"""Shop traffic for a merchant's whole history, consistent with its orders, generated in bulk.

The model (every rate is a field of FunnelShape):

- **Sessions.** Every session has exactly one visit, so every session is a visiting session.
  Each order comes from one *buying session* of its customer; all other sessions are *browsing
  sessions* that buy nothing. Visitor conversion (buying sessions ÷ all sessions) drifts linearly
  over the history from ``visitor_conversion × (1 − conversion_drift)`` to
  ``visitor_conversion × (1 + conversion_drift)``: 12% → 20% with the defaults, as the county
  co-op in the domain notes reports.
- **Browsing sessions per day** are Poisson with mean ``expected buyers × (1 − c) ÷ c`` for that
  day's conversion c, where expected buyers are the day's traffic (weekday, festivals) times the
  orders per unit of traffic over the surrounding four weeks: browsing follows the merchant's
  growth and the calendar without copying each day's order noise. They start uniformly within
  opening hours (07:30–20:00 Asia/Shanghai) and end by closing time. A share of them is signed in
  (a customer drawn uniformly among those joined by that day); the rest are anonymous
  (customer_id NULL).
- **Inside a session**, in order: exposures (a product shown in a list or feed: the first ordered
  product, plus a Poisson number of others, in a buying session; a Poisson number in a browsing
  one), the visit, then product views in random order, each followed at once by a cart add when
  the product goes into the cart. A buying session views and carts every ordered line's product
  and browses a few other products, some of which are carted and abandoned; a browsing session
  bounces (no view) or views one or more products, and carts some of them without buying. The
  buying session ends with one purchase event at exactly ordered_at, with the order_id and no
  product (the lines are in core.order_lines). Products browsed or exposed are drawn by
  product_weight among those on sale that day (launch_day ≤ day < stop_day).
- **Times.** A buying session starts a few minutes (log-normal) before ordered_at, a browsing
  session lasts a few minutes; the events before the purchase fall strictly inside the session,
  in sequence, at least a second apart, at random (exponential) spacing.
- **Session ids** are contiguous from first_session_id, numbered in order of session start.

Every event of the history is made with array operations (np.repeat, cumulative sums, one
searchsorted for all weighted product draws); nothing loops per session or per event.

Size: a buying session has about 3.7 + 2 × (lines of the order) events and a browsing session
about 1.9, and there are 1 ÷ conversion − 1 browsing sessions per order; with 2.5 lines per order
and 16% conversion that is about 18 events per order. The visits alone are 1 ÷ conversion per
order, so no setting gets a history below about 7 + 2 × lines per order at 16%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from transactional.funnel import EVENT_TYPES

EXPOSURE = EVENT_TYPES["exposure"]
VISIT = EVENT_TYPES["visit"]
PRODUCT_VIEW = EVENT_TYPES["product_view"]
CART_ADD = EVENT_TYPES["cart_add"]
PURCHASE = EVENT_TYPES["purchase"]

_SECOND_US = 1_000_000
_MINUTE_US = 60 * _SECOND_US
_OPENING_US = (7 * 60 + 30) * _MINUTE_US
_CLOSING_US = 20 * 60 * _MINUTE_US
_NO_ID = -1


@dataclass(frozen=True)
class ShopTraffic:
    """One merchant's history; every array is aligned as its comment says."""

    merchant_id: int
    order_ids: np.ndarray  # int64 [orders]
    order_customer_ids: np.ndarray  # int64 [orders]
    order_times_us: np.ndarray  # int64 [orders], epoch microseconds UTC of ordered_at
    line_order_index: np.ndarray  # int64 [lines], index into the order arrays, grouped by order
    line_product_ids: np.ndarray  # int64 [lines]
    day_starts_us: np.ndarray  # int64 [days], epoch microseconds UTC of each day's 00:00 Asia/Shanghai
    day_traffic: np.ndarray  # float [days], relative shop traffic per day, mean about 1
    products_on_sale: np.ndarray  # int64 [products] product_ids
    product_launch_day: np.ndarray  # int64 [products] first day index it can be viewed
    product_stop_day: np.ndarray  # int64 [products] first day index it is no longer shown (days if never)
    product_weight: np.ndarray  # float [products], popularity for browsing
    customer_ids: np.ndarray  # int64 [customers], known customers who may browse signed in
    customer_join_day: np.ndarray  # int64 [customers]


@dataclass(frozen=True)
class FunnelShape:
    """The rates of the traffic model; the defaults give about 18 events per order (see above)."""

    conversion_drift: float = 0.25  # ± share of visitor_conversion from first to last day
    traffic_window_days: int = 28  # orders per unit of traffic are averaged over this window
    signed_in_share: float = 0.3  # of browsing sessions
    buying_extra_exposures: float = 0.2  # Poisson mean, besides the first ordered product's
    browsing_exposures: float = 0.3  # Poisson mean
    buying_extra_views: float = 0.4  # Poisson mean of products browsed besides the ordered ones
    bounce_share: float = 0.6  # browsing sessions that view no product
    browsing_extra_views: float = 0.3  # Poisson mean of views after the first, when not bounced
    abandoned_cart_share: float = 0.12  # of views not bought that are carted anyway
    buying_minutes_median: float = 6.0  # session start to ordered_at
    browsing_minutes_median: float = 3.0
    minutes_sigma: float = 0.6  # of the log-normal session length
    longest_minutes: float = 45.0  # and one minute at least


DEFAULT_SHAPE = FunnelShape()


@dataclass(frozen=True)
class _Sessions:
    """Per session, in session-id order."""

    start_us: np.ndarray
    end_us: np.ndarray  # ordered_at for a buying session; the events before it stay below it
    customer_id: np.ndarray  # _NO_ID when anonymous
    order_index: np.ndarray  # _NO_ID for a browsing session
    day: np.ndarray
    of_order: np.ndarray  # per order: its buying session


@dataclass(frozen=True)
class _Items:
    """Products viewed, grouped by session in viewing order; carted ones get a cart add next."""

    session: np.ndarray
    product_id: np.ndarray
    carted: np.ndarray


class _ProductDraws:
    """Draws products by weight among those on sale on given days, all draws in one search.

    Days are cut into epochs at every launch and stop day, so the set on sale is fixed within an
    epoch; the weights of every epoch's set, laid end to end in one cumulative sum, let a single
    searchsorted answer draws for any mix of days.
    """

    def __init__(self, traffic: ShopTraffic, days: int) -> None:
        # A placeholder that is never on sale keeps every array non-empty for a shop without products.
        self._product_ids = np.append(np.asarray(traffic.products_on_sale, dtype=np.int64), _NO_ID)
        launch = np.append(np.asarray(traffic.product_launch_day, dtype=np.int64), 0)
        stop = np.append(np.asarray(traffic.product_stop_day, dtype=np.int64), 0)
        weight = np.append(np.asarray(traffic.product_weight, dtype=np.float64), 0.0)
        products = len(self._product_ids)
        self._epoch_starts = np.unique(np.clip(np.concatenate(([0], launch, stop)), 0, days))
        first_day = self._epoch_starts[:, None]
        on_sale = (launch[None, :] <= first_day) & (first_day < stop[None, :]) & (weight[None, :] > 0)
        self._cumulative = np.cumsum(np.where(on_sale, weight[None, :], 0.0).ravel())
        rows = np.arange(len(self._epoch_starts))
        self._epoch_end = self._cumulative[(rows + 1) * products - 1]
        self._epoch_offset = np.concatenate(([0.0], self._epoch_end[:-1]))
        # Rounding can put a draw at the very end of its row; it then takes the row's last
        # product on sale instead of one that is not.
        self._last_on_sale = rows * products + products - 1 - on_sale[:, ::-1].argmax(axis=1)
        self._has_any = on_sale.any(axis=1)

    def draw(self, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One product id per day given, _NO_ID where nothing is on sale that day."""
        epoch = np.searchsorted(self._epoch_starts, days, side="right") - 1
        offset = self._epoch_offset[epoch]
        target = offset + rng.random(len(days)) * (self._epoch_end[epoch] - offset)
        flat = np.minimum(np.searchsorted(self._cumulative, target, side="right"), self._last_on_sale[epoch])
        return np.where(self._has_any[epoch], self._product_ids[flat % len(self._product_ids)], _NO_ID)


def funnel_events(
    traffic: ShopTraffic,
    first_session_id: int,
    rng: np.random.Generator,
    visitor_conversion: float = 0.16,
    *,
    shape: FunnelShape = DEFAULT_SHAPE,
) -> tuple[pd.DataFrame, int]:
    """Returns (events with exactly the columns merchant_id, occurred_at (datetime64[us, UTC]),
    session_id, customer_id (Int64, nullable), product_id (Int64), order_id (Int64), event_type
    (int16), sorted by occurred_at then session_id then sequence within the session, next free
    session id)."""
    days = len(traffic.day_starts_us)
    draws = _ProductDraws(traffic, days)
    sessions = _sessions(traffic, days, rng, visitor_conversion, shape)
    items = _items(traffic, sessions, draws, rng, shape)
    exposures = _exposures(traffic, sessions, draws, rng, shape)
    events = _events(sessions, items, exposures, traffic, first_session_id, rng)
    return events, first_session_id + len(sessions.start_us)


def _sessions(
    traffic: ShopTraffic, days: int, rng: np.random.Generator, visitor_conversion: float, shape: FunnelShape
) -> _Sessions:
    day_starts = np.asarray(traffic.day_starts_us, dtype=np.int64)
    order_times = np.asarray(traffic.order_times_us, dtype=np.int64)
    order_day = np.clip(np.searchsorted(day_starts, order_times, side="right") - 1, 0, max(days - 1, 0))
    progress = np.linspace(-1.0, 1.0, days) if days > 1 else np.zeros(days)
    conversion = visitor_conversion * (1.0 + shape.conversion_drift * progress)
    browsing_per_day = rng.poisson(
        _expected_buyers(order_day, traffic.day_traffic, shape) * (1 - conversion) / conversion
    )
    browsing_day = np.repeat(np.arange(days), browsing_per_day)
    browsing = len(browsing_day)

    buying_length = _session_lengths(len(order_times), shape.buying_minutes_median, rng, shape)
    browsing_length = _session_lengths(browsing, shape.browsing_minutes_median, rng, shape)
    latest_start = np.maximum(_CLOSING_US - _OPENING_US - browsing_length, 0)
    browsing_start = day_starts[browsing_day] + _OPENING_US + (rng.random(browsing) * latest_start).astype(np.int64)

    start = np.concatenate((order_times - buying_length, browsing_start))
    by_start = np.argsort(start, kind="stable")
    session_of = np.empty_like(by_start)
    session_of[by_start] = np.arange(len(by_start))
    return _Sessions(
        start_us=start[by_start],
        end_us=np.concatenate((order_times, browsing_start + browsing_length))[by_start],
        customer_id=np.concatenate(
            (np.asarray(traffic.order_customer_ids, dtype=np.int64), _signed_in(traffic, browsing_day, rng, shape))
        )[by_start],
        order_index=np.concatenate((np.arange(len(order_times)), np.full(browsing, _NO_ID)))[by_start],
        day=np.concatenate((order_day, browsing_day))[by_start],
        of_order=session_of[: len(order_times)],
    )


def _expected_buyers(order_day: np.ndarray, day_traffic: np.ndarray, shape: FunnelShape) -> np.ndarray:
    """Each day's traffic times the orders per unit of traffic in the window around it."""
    traffic = np.asarray(day_traffic, dtype=np.float64)
    days = len(traffic)
    half = shape.traffic_window_days // 2
    orders = np.concatenate(([0.0], np.cumsum(np.bincount(order_day, minlength=days))))
    traffic_sum = np.concatenate(([0.0], np.cumsum(traffic)))
    low = np.clip(np.arange(days) - half, 0, days)
    high = np.clip(np.arange(days) + half + 1, 0, days)
    window_traffic = traffic_sum[high] - traffic_sum[low]
    per_traffic = np.divide(orders[high] - orders[low], window_traffic, out=np.zeros(days), where=window_traffic > 0)
    return traffic * per_traffic


def _session_lengths(count: int, median_minutes: float, rng: np.random.Generator, shape: FunnelShape) -> np.ndarray:
    minutes = np.clip(median_minutes * rng.lognormal(0.0, shape.minutes_sigma, count), 1.0, shape.longest_minutes)
    return (minutes * _MINUTE_US).astype(np.int64)


def _signed_in(
    traffic: ShopTraffic, browsing_day: np.ndarray, rng: np.random.Generator, shape: FunnelShape
) -> np.ndarray:
    """A customer joined by the session's day for a share of browsing sessions, _NO_ID for the rest."""
    by_join = np.argsort(traffic.customer_join_day, kind="stable")
    joined_days = np.asarray(traffic.customer_join_day, dtype=np.int64)[by_join]
    # The trailing _NO_ID is what a day before anyone joined picks (index -1), then drops.
    joined_ids = np.append(np.asarray(traffic.customer_ids, dtype=np.int64)[by_join], _NO_ID)
    joined_by_then = np.searchsorted(joined_days, browsing_day, side="right")
    signed_in = (rng.random(len(browsing_day)) < shape.signed_in_share) & (joined_by_then > 0)
    pick = np.minimum((rng.random(len(browsing_day)) * joined_by_then).astype(np.int64), joined_by_then - 1)
    return np.where(signed_in, joined_ids[pick], _NO_ID)


def _items(
    traffic: ShopTraffic, sessions: _Sessions, draws: _ProductDraws, rng: np.random.Generator, shape: FunnelShape
) -> _Items:
    count = len(sessions.start_us)
    buying = sessions.order_index != _NO_ID
    ordered_session = sessions.of_order[np.asarray(traffic.line_order_index, dtype=np.int64)]

    extra_views = np.where(
        buying,
        rng.poisson(shape.buying_extra_views, count),
        np.where(rng.random(count) < shape.bounce_share, 0, 1 + rng.poisson(shape.browsing_extra_views, count)),
    )
    browsed_session = np.repeat(np.arange(count), extra_views)
    browsed_product = draws.draw(sessions.day[browsed_session], rng)
    shown = browsed_product != _NO_ID
    browsed_session = browsed_session[shown]
    browsed_product = browsed_product[shown]
    abandoned = rng.random(len(browsed_session)) < shape.abandoned_cart_share

    session = np.concatenate((ordered_session, browsed_session))
    product = np.concatenate((np.asarray(traffic.line_product_ids, dtype=np.int64), browsed_product))
    carted = np.concatenate((np.ones(len(ordered_session), dtype=bool), abandoned))
    # Session number plus a fraction below one: one sort groups items by session in random order.
    viewing_order = np.argsort(session + rng.random(len(session)), kind="stable")
    return _Items(session[viewing_order], product[viewing_order], carted[viewing_order])


def _exposures(
    traffic: ShopTraffic, sessions: _Sessions, draws: _ProductDraws, rng: np.random.Generator, shape: FunnelShape
) -> tuple[np.ndarray, np.ndarray]:
    """(session, product) of every exposure, grouped by session; a buying session's first is of
    the first product its order names."""
    count = len(sessions.start_us)
    buying = sessions.order_index != _NO_ID
    line_order = np.asarray(traffic.line_order_index, dtype=np.int64)
    first_lines = np.flatnonzero(np.diff(line_order, prepend=-1) != 0)  # lines come grouped by order

    others = rng.poisson(np.where(buying, shape.buying_extra_exposures, shape.browsing_exposures))
    other_session = np.repeat(np.arange(count), others)
    other_product = draws.draw(sessions.day[other_session], rng)
    session = np.concatenate((sessions.of_order[line_order[first_lines]], other_session))
    product = np.concatenate((np.asarray(traffic.line_product_ids, dtype=np.int64)[first_lines], other_product))
    kept = product != _NO_ID
    grouped = np.argsort(session[kept], kind="stable")
    return session[kept][grouped], product[kept][grouped]


def _events(
    sessions: _Sessions,
    items: _Items,
    exposures: tuple[np.ndarray, np.ndarray],
    traffic: ShopTraffic,
    first_session_id: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    count = len(sessions.start_us)
    exposure_session, exposure_product = exposures
    buying = sessions.order_index != _NO_ID
    exposure_count = np.bincount(exposure_session, minlength=count)
    item_count = np.bincount(items.session, minlength=count)
    cart_count = np.bincount(items.session[items.carted], minlength=count)
    per_session = exposure_count + 1 + item_count + cart_count + buying
    session_first = _starts(per_session)
    total = int(per_session.sum())

    event_type = np.empty(total, dtype=np.int16)
    product_id = np.full(total, _NO_ID, dtype=np.int64)
    order_id = np.full(total, _NO_ID, dtype=np.int64)

    exposure_rank = np.arange(len(exposure_session)) - _starts(exposure_count)[exposure_session]
    exposure_at = session_first[exposure_session] + exposure_rank
    event_type[exposure_at] = EXPOSURE
    product_id[exposure_at] = exposure_product

    visit_at = session_first + exposure_count
    event_type[visit_at] = VISIT

    # An item takes one place (its view) or two (view, then cart add) after its session's visit.
    item_places = 1 + items.carted.astype(np.int64)
    places_before = np.cumsum(item_places) - item_places
    places_before_in_session = places_before - places_before[_starts(item_count)[items.session]]
    view_at = visit_at[items.session] + 1 + places_before_in_session
    event_type[view_at] = PRODUCT_VIEW
    product_id[view_at] = items.product_id
    cart_at = view_at[items.carted] + 1
    event_type[cart_at] = CART_ADD
    product_id[cart_at] = items.product_id[items.carted]

    purchase_at = session_first[buying] + per_session[buying] - 1
    event_type[purchase_at] = PURCHASE
    order_id[purchase_at] = np.asarray(traffic.order_ids, dtype=np.int64)[sessions.order_index[buying]]

    session = np.repeat(np.arange(count), per_session)
    occurred_us = _event_times(sessions, per_session, session_first, session, buying, rng)
    # Events are laid out by session id, then in sequence: a stable sort by time keeps that
    # order among events at the same microsecond.
    in_time_order = np.argsort(occurred_us, kind="stable")
    session_id = first_session_id + session[in_time_order]
    return pd.DataFrame(
        {
            "merchant_id": np.full(total, traffic.merchant_id, dtype=np.int64),
            "occurred_at": pd.Series(occurred_us[in_time_order].view("datetime64[us]")).dt.tz_localize("UTC"),
            "session_id": session_id,
            "customer_id": _nullable(sessions.customer_id[session[in_time_order]]),
            "product_id": _nullable(product_id[in_time_order]),
            "order_id": _nullable(order_id[in_time_order]),
            "event_type": event_type[in_time_order],
        },
        copy=False,  # the columns are fresh arrays; merging them into blocks would only copy them
    )


def _starts(counts: np.ndarray) -> np.ndarray:
    """Where each group begins when groups of these sizes are laid end to end."""
    return np.cumsum(counts) - counts


def _nullable(ids: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(ids, ids == _NO_ID)


def _event_times(
    sessions: _Sessions,
    per_session: np.ndarray,
    session_first: np.ndarray,
    session: np.ndarray,
    buying: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Strictly increasing times within each session, at least a second apart: the events before
    the purchase fall at exponential spacing strictly inside the session, and the purchase at
    exactly its end (ordered_at)."""
    timed = per_session - buying
    gaps = rng.exponential(size=len(session))
    elapsed = np.cumsum(gaps)
    elapsed -= gaps
    # One more gap after the session's last event keeps every event clear of the session's end.
    span = np.bincount(session, weights=gaps, minlength=len(per_session)) + rng.exponential(size=len(per_session))
    length = np.maximum(sessions.end_us - sessions.start_us, (timed + 1) * _SECOND_US)
    start = np.where(buying, sessions.end_us - length, sessions.start_us)
    room_per_gap = (length - timed * _SECOND_US) / span
    # Event k of a session sits k seconds plus its share of the room after the session's start.
    elapsed -= elapsed[session_first][session]
    elapsed *= room_per_gap[session]
    times = elapsed.astype(np.int64)
    times += (start - session_first * _SECOND_US)[session]
    times += np.arange(len(session)) * _SECOND_US
    purchase_at = session_first[buying] + per_session[buying] - 1
    times[purchase_at] = sessions.end_us[buying]
    return times
