"""The FastAPI application: one factory, so the CLI and tests each pass their own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from transactional.api import funnel, money, orders, prices, promotions, purchasing, returns, stock, suppliers
from transactional.api.errors import install_error_handlers
from transactional.api.pool import open_pool

# A full batch of funnel events is about 1.5 MB; anything far larger is refused (413) unread.
MAX_BODY_BYTES = 8 * 1024 * 1024

DESCRIPTION = """
Write and read a merchant's trading data: orders and their returns, payments and settlement statements,
stock, prices and promotions, suppliers and purchase orders, and funnel events.

* **Authentication**: every route except `/openapi.json` and `/docs` needs the merchant's API key
  (printed by `coopcast merchant create`, replaced by `coopcast merchant rotate-key`) in the
  `X-API-Key` header or as `Authorization: Bearer <key>`. The key decides the merchant; requests
  name SKUs, customers, warehouses and orders by their codes. `POST /purchase-orders` also takes
  the session token a dashboard account gets at sign-in (`Authorization: Bearer`, valid 12 hours,
  ended by signing out; roles owner, procurement and admin; a platform admin names the merchant
  in `X-Merchant-Code`); every other route refuses it with 403.
* **Idempotency**: every write accepts an `Idempotency-Key` header. A retry with the same key and
  body returns the first response (with `Idempotent-Replayed: true`) and changes nothing; the
  same key with another body is refused with 422.
* **Time**: writes take an optional `at` (ISO 8601; naive times are Asia/Shanghai); the default
  is the server's current time.
* **Errors**: `{"detail": "..."}` with 401, 404 (unknown code), 409 (not enough stock, wrong
  order status), 413 (body over 8 MB), 422 (invalid request), 503 with `Retry-After` (a
  concurrent write conflicted or the database is unavailable: nothing was written, retry).
"""


def create_app(database_url: str, *, pool_size: int = 10) -> FastAPI:
    """The API over `database_url`, which should log in as the role subject to row security."""
    pool = open_pool(database_url, max_size=pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        title="coopcast API", version="1", description=DESCRIPTION, lifespan=lifespan, max_body_size=MAX_BODY_BYTES
    )
    app.state.pool = pool
    install_error_handlers(app)
    for module in (orders, returns, stock, purchasing, funnel, prices, promotions, money, suppliers):
        app.include_router(module.router)
    return app
