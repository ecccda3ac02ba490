"""Live trading: a simulated network keeps trading through the HTTP API, now, at a steady rate.

Orders are launched on a fixed schedule (open loop): the n-th order is due at start + n / rate
whatever the API's latency, and K clients take due work from one queue. A slow API therefore
shows as queueing and latency (measured from each order's scheduled start), never as a quietly
lower rate. Each order is for an existing customer of a random merchant, with 1 to 4 SKUs that
have free stock in one warehouse, priced by the service. Most orders are shipped a few seconds
later, some are cancelled; each order's shop session (exposure → purchase) and a few sessions
that buy nothing are posted as funnel events; a SKU running low is reordered from its supplier
and the purchase order received shortly after, so trading can go on for hours.

Every write goes through the API with a merchant's API key: live trading issues each merchant a
fresh key when it starts (as `coopcast merchant rotate-key` does, which revokes the key in use)
and revokes those keys when it stops. Choices come from a seeded generator; what succeeds depends
on timing, so two runs with one seed are alike, not identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
import threading
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import psycopg

from transactional import db, merchants
from transactional.errors import DomainError
from transactional.operations import Operation, Performed, perform

NO_NETWORK = "simulate a network first: coopcast simulate --scale small"

MAX_LINES = 4
SHIP_SHARE = 0.9
CANCEL_SHARE = 0.05  # the rest stay confirmed, awaiting shipment
FOLLOW_UP_SECONDS = (1.0, 10.0)  # when an order is shipped or cancelled, after it was placed
RECEIPT_SECONDS = (2.0, 15.0)  # when a purchase order arrives, after it was sent
BROWSING_SESSIONS_PER_ORDER = 1.5  # sessions that buy nothing, on average, per order
ANONYMOUS_SHARE = 0.3  # of browsing sessions, by visitors not logged in
REORDER_POINT_FLOOR = 10
REORDER_COVER = 4  # a reorder brings a SKU to about this many times its reorder point
STOCK_REFRESH_SECONDS = 60.0
REPORT_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 30.0
ATTEMPTS = 3  # a 503 means nothing was written and says when to retry
API_START_SECONDS = 30.0
APPROVER = "live trading"

# Operations as the summary names them.
PLACE = "place order"
PAY = "pay order"
SHIP = "ship order"
CANCEL = "cancel order"
FUNNEL = "post funnel events"
PURCHASE = "create purchase order"
APPROVE = "approve purchase order"
RECEIVE = "receive purchase order"

StockKey = tuple[str, str]  # (warehouse_code, sku_code)


@dataclass(frozen=True)
class LiveSettings:
    rate: float = 5.0  # orders launched per second
    clients: int = 8
    duration: float | None = None  # seconds; None: until interrupted
    seed: int = 1


@dataclass(frozen=True)
class Product:
    sku_code: str
    supplier_code: str | None
    min_sale_qty: int
    reorder_point: int
    reorder_quantity: int


@dataclass
class Shop:
    """One merchant as live trading knows it: codes to trade with, and free stock as last seen
    (read from the database, then kept up to date with what live trading itself sells and buys)."""

    merchant_id: int
    merchant_code: str
    customers: list[str]
    products: dict[str, Product]
    available: dict[StockKey, int] = field(default_factory=dict)
    replenishing: set[StockKey] = field(default_factory=set)
    api_key: str = ""

    def stocked(self, warehouse_code: str) -> list[str]:
        return sorted(
            sku
            for (warehouse, sku), units in self.available.items()
            if warehouse == warehouse_code and units >= self.products[sku].min_sale_qty
        )

    def warehouses_in_stock(self) -> list[str]:
        return sorted({warehouse for (warehouse, sku), units in self.available.items() if units > 0})


@dataclass(frozen=True)
class PlannedOrder:
    shop: Shop
    due: float  # event-loop time the order was scheduled for
    customer_code: str
    warehouse_code: str
    lines: list[tuple[str, int]]
    payment_method: str
    fate: str | None  # "ship", "cancel" or None (stays confirmed)
    follow_up_after: float
    shopping_started: timedelta  # how long before ordering the customer's session began
    browsing: list[Browsing]


@dataclass(frozen=True)
class Browsing:
    """A session that buys nothing: seen, maybe visited, maybe a look at products or a cart."""

    customer_code: str | None
    viewed: list[str]
    carted: list[str]
    visited: bool
    started_before: timedelta


@dataclass
class Tally:
    orders_launched: int = 0
    orders_placed: int = 0
    orders_paid: int = 0
    orders_shipped: int = 0
    orders_cancelled: int = 0
    orders_dropped: int = 0
    funnel_events: int = 0
    purchase_orders: int = 0
    purchase_receipts: int = 0
    requests: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    server_errors: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def count_error(self, kind: str, detail: str, *, server_side: bool) -> None:
        self.errors[kind] += 1
        self.error_examples.setdefault(kind, detail)
        if server_side:
            self.server_errors += 1


@dataclass(frozen=True)
class LiveSummary:
    seconds: float
    target_rate: float
    orders_launched: int  # orders whose scheduled start came before the stop
    orders_placed: int
    orders_paid: int  # online orders, paid at checkout (which settles them)
    orders_shipped: int
    orders_cancelled: int
    orders_dropped: int  # launched on schedule, still waiting for a client when trading stopped
    funnel_events: int
    purchase_orders: int
    purchase_receipts: int
    requests: int
    retries: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    server_errors: int  # 5xx answers (after retries) and connection failures
    latency_p50: float | None  # seconds from an order's scheduled start to the API's answer
    latency_p95: float | None
    latency_p99: float | None

    @property
    def achieved_rate(self) -> float:
        return self.orders_placed / self.seconds if self.seconds > 0 else 0.0


def trade_live(
    owner_url: str,
    settings: LiveSettings,
    *,
    actor: str,
    api_url: str | None = None,
    app_database_url: str | None = None,
    report: Callable[[Tally, float], None] | None = None,
) -> LiveSummary:
    """Trade until `settings.duration` has passed or SIGINT/SIGTERM. Without `api_url` the API runs
    in this process (connected as `app_database_url`, default the row-security role on
    `owner_url`). `report(tally, elapsed_seconds)` is called about once a second."""
    if settings.rate <= 0 or settings.clients < 1:
        raise DomainError("live trading needs a positive rate and at least one client")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        shops = load_network(conn)
        issued = _issue_keys(conn, shops, actor)
        try:
            with contextlib.ExitStack() as stack:
                if api_url is None:
                    api_url = stack.enter_context(
                        in_process_api(
                            app_database_url or db.as_role(owner_url, db.APP_ROLE), pool_size=settings.clients + 2
                        )
                    )
                trader = LiveTrader(conn, shops, settings, api_url, report)
                return asyncio.run(trader.run())
        finally:
            _revoke_keys(conn, issued, actor)


def load_network(conn: psycopg.Connection) -> list[Shop]:
    """Every merchant with customers and active SKUs; DomainError when none has free stock."""
    customers: dict[int, list[str]] = {
        merchant_id: codes
        for merchant_id, codes in conn.execute(
            """SELECT merchant_id, array_agg(customer_code ORDER BY customer_code)
               FROM core.customers GROUP BY merchant_id"""
        ).fetchall()
    }
    products: dict[int, dict[str, Product]] = {}
    for row in conn.execute(
        """SELECT p.merchant_id, p.sku_code, s.supplier_code, p.min_sale_qty, p.min_order_qty,
                  p.order_multiple, p.low_stock_threshold
           FROM core.products p
           LEFT JOIN core.suppliers s ON s.supplier_id = p.supplier_id AND NOT s.is_blacklisted
           WHERE p.is_active
           ORDER BY p.merchant_id, p.sku_code"""
    ).fetchall():
        merchant_id, sku_code, supplier_code, min_sale_qty, min_order_qty, order_multiple, threshold = row
        products.setdefault(merchant_id, {})[sku_code] = _product(
            sku_code, supplier_code, min_sale_qty, min_order_qty, order_multiple, threshold
        )
    shops = [
        Shop(merchant_id, merchant_code, customers[merchant_id], products[merchant_id])
        for merchant_id, merchant_code in conn.execute(
            "SELECT merchant_id, merchant_code FROM core.merchants ORDER BY merchant_code"
        ).fetchall()
        if customers.get(merchant_id) and products.get(merchant_id)
    ]
    refresh_stock(conn, shops)
    if not any(shop.warehouses_in_stock() for shop in shops):
        raise DomainError(NO_NETWORK)
    return shops


def _product(
    sku_code: str, supplier_code: str | None, min_sale_qty: int, min_order_qty: int, order_multiple: int, threshold: int
) -> Product:
    reorder_point = max(threshold, REORDER_POINT_FLOOR * min_sale_qty)
    wanted = max(min_order_qty, REORDER_COVER * reorder_point)
    quantity = -(-wanted // order_multiple) * order_multiple
    return Product(sku_code, supplier_code, min_sale_qty, reorder_point, quantity)


def refresh_stock(conn: psycopg.Connection, shops: list[Shop]) -> None:
    """Free units per warehouse and SKU, leaving out batches expired on today's business date."""
    by_merchant = {shop.merchant_id: shop for shop in shops}
    fresh: dict[int, dict[StockKey, int]] = {merchant_id: {} for merchant_id in by_merchant}
    for merchant_id, warehouse_code, sku_code, units in conn.execute(
        """SELECT s.merchant_id, w.warehouse_code, p.sku_code, sum(s.on_hand - s.reserved - s.frozen)::int
           FROM core.stock s
           JOIN core.batches b USING (batch_id)
           JOIN core.products p ON p.product_id = s.product_id
           JOIN core.warehouses w ON w.warehouse_id = s.warehouse_id
           WHERE s.merchant_id = ANY(%s) AND p.is_active
             AND (b.expiry_date IS NULL OR b.expiry_date > (now() AT TIME ZONE 'Asia/Shanghai')::date)
           GROUP BY 1, 2, 3""",
        [list(by_merchant)],
    ).fetchall():
        if sku_code in by_merchant[merchant_id].products:
            fresh[merchant_id][warehouse_code, sku_code] = units
    for merchant_id, levels in fresh.items():
        by_merchant[merchant_id].available = levels


def _issue_keys(conn: psycopg.Connection, shops: list[Shop], actor: str) -> list[merchants.IssuedKey]:
    issued = []
    for shop in shops:
        key = merchants.rotate_api_key(conn, shop.merchant_code, datetime.now(UTC), actor=actor)
        shop.api_key = key.api_key
        issued.append(key)
    return issued


def _revoke_keys(conn: psycopg.Connection, issued: list[merchants.IssuedKey], actor: str) -> None:
    """Revoke the keys live trading issued (a key rotated since then is already revoked)."""
    for key in issued:
        at = datetime.now(UTC)

        def revoke(key: merchants.IssuedKey = key, at: datetime = at) -> Performed:
            conn.execute(
                "UPDATE core.api_keys SET revoked_at = %s WHERE key_hash = %s AND revoked_at IS NULL",
                [at, merchants.hash_api_key(key.api_key)],
            )
            return Performed({"key_prefix": key.key_prefix})

        operation = Operation(
            key.merchant_id,
            actor,
            "merchant.revoke_key",
            {},
            at,
            target=key.merchant_code,
            logged_request={"key_prefix": key.key_prefix},
        )
        perform(conn, operation, revoke)


@contextlib.contextmanager
def in_process_api(app_database_url: str, pool_size: int) -> Iterator[str]:
    """The HTTP API served by uvicorn on a free local port in a background thread; yields its URL."""
    import uvicorn

    from transactional.api import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(app_database_url, pool_size=pool_size), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="coopcast-api", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + API_START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise DomainError(f"the in-process API did not start within {API_START_SECONDS:.0f} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


Job = Callable[[httpx.AsyncClient], Awaitable[None]]


class LiveTrader:
    """The event loop's side of live trading: the schedule, the clients and their bookkeeping."""

    def __init__(
        self,
        conn: psycopg.Connection,
        shops: list[Shop],
        settings: LiveSettings,
        api_url: str,
        report: Callable[[Tally, float], None] | None,
    ) -> None:
        self._conn = conn
        self._shops = shops
        self._settings = settings
        self._api_url = api_url.rstrip("/")
        self._report = report
        self._rng = np.random.default_rng(settings.seed)
        self._tally = Tally()
        self._run = uuid.uuid4().hex[:12]
        self._request_numbers = itertools.count(1)
        self._last_session_id = 0
        self._queue: asyncio.Queue[tuple[Job, bool] | None] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()
        self._stop = asyncio.Event()
        self._stopping = False

    async def run(self) -> LiveSummary:
        loop = asyncio.get_running_loop()
        await self._require_api()
        handled = self._stop_on_signals(loop)
        started = loop.time()
        if self._settings.duration is not None:
            loop.call_later(self._settings.duration, self._stop.set)
        clients = [
            httpx.AsyncClient(base_url=self._api_url, timeout=REQUEST_TIMEOUT_SECONDS)
            for _ in range(self._settings.clients)
        ]
        workers = [asyncio.create_task(self._work(client)) for client in clients]
        helpers = [asyncio.create_task(self._refresh_stock()), asyncio.create_task(self._report_progress(started))]
        try:
            await self._launch_orders(started)
            elapsed = loop.time() - started
            await self._drain(workers)
        finally:
            for task in (*workers, *helpers):
                task.cancel()
            await asyncio.gather(*workers, *helpers, return_exceptions=True)
            for client in clients:
                await client.aclose()
            for signal_number in handled:
                loop.remove_signal_handler(signal_number)
        return self._summary(elapsed)

    async def _drain(self, workers: list[asyncio.Task]) -> None:
        """Let the requests under way finish; what is still queued or timed for later is dropped."""
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        for _ in workers:
            self._queue.put_nowait(None)
        await asyncio.gather(*workers)

    async def _require_api(self) -> None:
        try:
            async with httpx.AsyncClient(base_url=self._api_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
                (await client.get("/openapi.json")).raise_for_status()
        except httpx.HTTPError as error:
            raise DomainError(f"the API at {self._api_url} does not answer: {error}") from error

    def _stop_on_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        if threading.current_thread() is not threading.main_thread():
            return []
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, self._stop.set)
        return [signal.SIGINT, signal.SIGTERM]

    async def _launch_orders(self, started: float) -> None:
        """Open loop: the n-th order is due at started + n / rate, however busy the clients are."""
        loop = asyncio.get_running_loop()
        for number in itertools.count():
            due = started + number / self._settings.rate
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, due - loop.time()))
            if self._stop.is_set():
                return
            self._tally.orders_launched += 1
            planned = self._plan_order(due)
            if planned is None:
                self._tally.count_error(PLACE + " (not sent)", "no merchant has a SKU in stock", server_side=False)
            else:
                self._queue.put_nowait((self._placing(planned), True))

    async def _work(self, client: httpx.AsyncClient) -> None:
        while (item := await self._queue.get()) is not None:
            job, is_order = item
            if self._stopping:
                self._tally.orders_dropped += is_order
                continue
            await job(client)

    def _later(self, delay: float, job: Job) -> None:
        loop = asyncio.get_running_loop()

        def enqueue() -> None:
            self._timers.discard(timer)
            self._queue.put_nowait((job, False))

        timer = loop.call_later(delay, enqueue)
        self._timers.add(timer)

    # Planning: every random choice is made here, in schedule order, from the seeded generator.

    def _plan_order(self, due: float) -> PlannedOrder | None:
        open_shops = [shop for shop in self._shops if shop.warehouses_in_stock()]
        if not open_shops:
            return None
        rng = self._rng
        shop = open_shops[rng.integers(len(open_shops))]
        warehouses = [warehouse for warehouse in shop.warehouses_in_stock() if shop.stocked(warehouse)]
        if not warehouses:
            return None
        warehouse = warehouses[rng.integers(len(warehouses))]
        stocked = shop.stocked(warehouse)
        chosen = rng.choice(stocked, size=min(len(stocked), int(rng.integers(1, MAX_LINES + 1))), replace=False)
        lines = []
        for sku in sorted(str(code) for code in chosen):
            step = shop.products[sku].min_sale_qty
            quantity = min(step * int(rng.integers(1, 4)), shop.available[warehouse, sku] // step * step)
            lines.append((sku, quantity))
            shop.available[warehouse, sku] -= quantity  # held for this order until it is answered
        roll = rng.random()
        fate = "ship" if roll < SHIP_SHARE else "cancel" if roll < SHIP_SHARE + CANCEL_SHARE else None
        return PlannedOrder(
            shop=shop,
            due=due,
            customer_code=shop.customers[rng.integers(len(shop.customers))],
            warehouse_code=warehouse,
            lines=lines,
            payment_method="cod" if rng.random() < 0.2 else "online",
            fate=fate,
            follow_up_after=float(rng.uniform(*FOLLOW_UP_SECONDS)),
            shopping_started=timedelta(seconds=float(rng.uniform(60, 900))),
            browsing=[self._plan_browsing(shop) for _ in range(rng.poisson(BROWSING_SESSIONS_PER_ORDER))],
        )

    def _plan_browsing(self, shop: Shop) -> Browsing:
        rng = self._rng
        in_stock = sorted({sku for (_, sku), units in shop.available.items() if units > 0}) or sorted(shop.products)
        visited = bool(rng.random() < 0.6)
        viewed = sorted(str(sku) for sku in rng.choice(in_stock, size=min(len(in_stock), 3), replace=False))
        viewed = viewed[: int(rng.integers(0, len(viewed) + 1))] if visited else []
        carted = viewed[:1] if viewed and rng.random() < 0.25 else []
        customer = None if rng.random() < ANONYMOUS_SHARE else shop.customers[rng.integers(len(shop.customers))]
        return Browsing(customer, viewed, carted, visited, timedelta(seconds=float(rng.uniform(5, 900))))

    # Jobs: what the clients send.

    def _placing(self, order: PlannedOrder) -> Job:
        async def place(client: httpx.AsyncClient) -> None:
            shop = order.shop
            body = {
                "customer_code": order.customer_code,
                "warehouse_code": order.warehouse_code,
                "lines": [{"sku_code": sku, "quantity": quantity} for sku, quantity in order.lines],
                "payment_method": order.payment_method,
            }
            placed = await self._send(client, shop, PLACE, "/orders", body)
            self._tally.latencies.append(asyncio.get_running_loop().time() - order.due)
            if placed is None:
                self._restock(shop, order.warehouse_code, order.lines)
            else:
                self._tally.orders_placed += 1
                if order.payment_method == "online":
                    await self._pay(client, shop, placed)
                self._reorder_if_low(shop, order.warehouse_code, [sku for sku, _ in order.lines])
                if order.fate is not None:
                    self._later(order.follow_up_after, self._following_up(order, placed["order_no"]))
            await self._post_sessions(client, order, placed)

        return place

    async def _pay(self, client: httpx.AsyncClient, shop: Shop, placed: dict) -> None:
        """An online order is paid in full at checkout; cash on delivery pays when it arrives."""
        body = {"amount": placed["total_amount"]}
        if await self._send(client, shop, PAY, f"/orders/{placed['order_no']}/payments", body) is not None:
            self._tally.orders_paid += 1

    def _following_up(self, order: PlannedOrder, order_no: str) -> Job:
        async def follow_up(client: httpx.AsyncClient) -> None:
            if order.fate == "ship":
                if await self._send(client, order.shop, SHIP, f"/orders/{order_no}/ship", {}) is not None:
                    self._tally.orders_shipped += 1
            elif await self._send(client, order.shop, CANCEL, f"/orders/{order_no}/cancel", {}) is not None:
                self._tally.orders_cancelled += 1
                self._restock(order.shop, order.warehouse_code, order.lines)

        return follow_up

    async def _post_sessions(self, client: httpx.AsyncClient, order: PlannedOrder, placed: dict | None) -> None:
        """The buyer's session (ending in the purchase when the order went through) and the
        sessions that bought nothing, in one batch."""
        now = datetime.now(UTC)
        ordered_at = datetime.fromisoformat(placed["ordered_at"]) if placed else now
        skus = [sku for sku, _ in order.lines]
        events = self._session_events(order.customer_code, ordered_at - order.shopping_started, True, skus, skus)
        if placed:
            events.append(
                self._event(
                    ordered_at, events[0]["session_id"], "purchase", order.customer_code, None, placed["order_no"]
                )
            )
        for browsing in order.browsing:
            events += self._session_events(
                browsing.customer_code,
                now - browsing.started_before,
                browsing.visited,
                browsing.viewed,
                browsing.carted,
            )
        if await self._send(client, order.shop, FUNNEL, "/funnel-events", {"events": events}) is not None:
            self._tally.funnel_events += len(events)

    def _session_events(
        self, customer: str | None, started: datetime, visited: bool, viewed: list[str], carted: list[str]
    ) -> list[dict]:
        session = self._next_session_id()
        events = [self._event(started, session, "exposure", customer)]
        steps = [("visit", None)] if visited else []
        steps += [("product_view", sku) for sku in viewed] + [("cart_add", sku) for sku in carted]
        for number, (event_type, sku) in enumerate(steps, start=1):
            events.append(self._event(started + timedelta(seconds=20 * number), session, event_type, customer, sku))
        return events

    @staticmethod
    def _event(
        at: datetime,
        session_id: int,
        event_type: str,
        customer: str | None,
        sku: str | None = None,
        order_no: str | None = None,
    ) -> dict:
        return {
            "occurred_at": at.isoformat(),
            "session_id": session_id,
            "event_type": event_type,
            "customer_code": customer,
            "sku_code": sku,
            "order_no": order_no,
        }

    def _next_session_id(self) -> int:
        """Microseconds since the epoch, made unique: above any session id the simulated history
        numbers from 1, and apart from another live run's unless both start in the same instant."""
        self._last_session_id = max(self._last_session_id + 1, time.time_ns() // 1000)
        return self._last_session_id

    def _restock(self, shop: Shop, warehouse: str, lines: list[tuple[str, int]]) -> None:
        for sku, quantity in lines:
            shop.available[warehouse, sku] = shop.available.get((warehouse, sku), 0) + quantity

    def _reorder_if_low(self, shop: Shop, warehouse: str, skus: list[str]) -> None:
        for sku in skus:
            product = shop.products[sku]
            key = (warehouse, sku)
            if (
                product.supplier_code is not None
                and key not in shop.replenishing
                and shop.available.get(key, 0) < product.reorder_point
            ):
                shop.replenishing.add(key)
                self._queue.put_nowait((self._purchasing(shop, warehouse, product), False))

    def _purchasing(self, shop: Shop, warehouse: str, product: Product) -> Job:
        async def purchase(client: httpx.AsyncClient) -> None:
            body = {
                "supplier_code": product.supplier_code,
                "warehouse_code": warehouse,
                "lines": [{"sku_code": product.sku_code, "quantity": product.reorder_quantity}],
            }
            opened = await self._send(client, shop, PURCHASE, "/purchase-orders", body)
            if opened is None:
                shop.replenishing.discard((warehouse, product.sku_code))
                return
            self._tally.purchase_orders += 1
            po_no = opened["po_no"]
            for level in range(opened["approved_level"] + 1, opened["required_approval_level"] + 1):
                approval = {"approver": APPROVER, "level": level}
                if await self._send(client, shop, APPROVE, f"/purchase-orders/{po_no}/approve", approval) is None:
                    shop.replenishing.discard((warehouse, product.sku_code))
                    return
            delay = float(self._rng.uniform(*RECEIPT_SECONDS))
            self._later(delay, self._receiving(shop, warehouse, product.sku_code, po_no))

        return purchase

    def _receiving(self, shop: Shop, warehouse: str, sku: str, po_no: str) -> Job:
        async def receive(client: httpx.AsyncClient) -> None:
            receipt = await self._send(client, shop, RECEIVE, f"/purchase-orders/{po_no}/receipts", {})
            shop.replenishing.discard((warehouse, sku))
            if receipt is not None:
                self._tally.purchase_receipts += 1
                self._restock(shop, warehouse, [(sku, receipt["passed_quantity"])])

        return receive

    async def _send(self, client: httpx.AsyncClient, shop: Shop, operation: str, path: str, body: dict) -> dict | None:
        """POST as the shop's merchant; None when refused, counted by operation and status. A 503
        is retried with the same idempotency key, so a write never happens twice."""
        headers = {"X-API-Key": shop.api_key, "Idempotency-Key": f"live-{self._run}-{next(self._request_numbers)}"}
        for attempt in range(1, ATTEMPTS + 1):
            self._tally.requests += 1
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError as error:
                self._tally.count_error(f"{operation}: connection error", repr(error), server_side=True)
                return None
            if response.status_code != 503 or attempt == ATTEMPTS:
                break
            self._tally.retries += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        if response.is_success:
            return response.json()
        detail = response.json().get("detail") if _is_json(response) else response.text
        status = response.status_code
        self._tally.count_error(f"{operation}: {status}", str(detail)[:300], server_side=status >= 500)
        return None

    async def _refresh_stock(self) -> None:
        """Re-read free stock now and then: batches expire, and other writers trade too."""
        while True:
            await asyncio.sleep(STOCK_REFRESH_SECONDS)
            await asyncio.to_thread(refresh_stock, self._conn, self._shops)

    async def _report_progress(self, started: float) -> None:
        if self._report is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            self._report(self._tally, loop.time() - started)

    def _summary(self, seconds: float) -> LiveSummary:
        tally = self._tally
        p50, p95, p99 = (
            (float(value) for value in np.percentile(tally.latencies, [50, 95, 99]))
            if tally.latencies
            else (None, None, None)
        )
        return LiveSummary(
            seconds=seconds,
            target_rate=self._settings.rate,
            orders_launched=tally.orders_launched,
            orders_placed=tally.orders_placed,
            orders_paid=tally.orders_paid,
            orders_shipped=tally.orders_shipped,
            orders_cancelled=tally.orders_cancelled,
            orders_dropped=tally.orders_dropped,
            funnel_events=tally.funnel_events,
            purchase_orders=tally.purchase_orders,
            purchase_receipts=tally.purchase_receipts,
            requests=tally.requests,
            retries=tally.retries,
            errors=dict(tally.errors),
            error_examples=dict(tally.error_examples),
            server_errors=tally.server_errors,
            latency_p50=p50,
            latency_p95=p95,
            latency_p99=p99,
        )


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
