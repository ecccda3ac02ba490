"""Refusals as HTTP: each domain error keeps its message and gets the status a client can act on."""

from __future__ import annotations

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from transactional.api.schemas import Problem
from transactional.errors import (
    CreditLimitExceeded,
    DomainError,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    PeriodClosed,
    ReturnRefused,
    StockOperationRefused,
    SupplierBlacklisted,
)

# First match wins, so subclasses come before their parents.
STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (InsufficientStock, 409),
    (InvalidTransition, 409),
    (StockOperationRefused, 409),
    (CreditLimitExceeded, 409),
    (SupplierBlacklisted, 409),
    (ReturnRefused, 409),
    (PeriodClosed, 409),
    (IdempotencyKeyReused, 422),
    (DomainError, 422),
)

ERROR_RESPONSES: dict[int | str, dict] = {
    401: {"model": Problem, "description": "No API key, or not a live one"},
    404: {"model": Problem, "description": "A code (SKU, customer, order, …) this merchant does not have"},
    409: {
        "model": Problem,
        "description": "Refused by the current state: short stock or credit, a wrong status, a blacklisted supplier",
    },
    422: {"model": Problem, "description": "An invalid request, or an idempotency key reused for another request"},
}


def status_for(error: DomainError) -> int:
    return next(status for error_type, status in STATUS_BY_ERROR if isinstance(error, error_type))


RETRY_AFTER_SECONDS = "1"


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    def domain_error(request: Request, error: DomainError) -> JSONResponse:
        return _problem(status_for(error), str(error))

    # A constraint the services did not check first (a duplicate order_no, say): the database's
    # own words are still the most precise description.
    @app.exception_handler(psycopg.errors.IntegrityError)
    def integrity_error(request: Request, error: psycopg.errors.IntegrityError) -> JSONResponse:
        detail = f" ({error.diag.message_detail})" if error.diag.message_detail else ""
        return _problem(409, f"refused by the database: {error.diag.message_primary}{detail}")

    # A value the checks above the database let through (a NUL byte, a number out of range):
    # bad input, told in one line rather than a traceback.
    @app.exception_handler(psycopg.DataError)
    def data_error(request: Request, error: psycopg.DataError) -> JSONResponse:
        reason = error.diag.message_primary or str(error).strip().splitlines()[0]
        return _problem(422, f"refused by the database: {reason}")

    # Nothing was written (the transaction rolled back), so a retry, with the same
    # Idempotency-Key, is safe.
    @app.exception_handler(psycopg.errors.SerializationFailure)
    @app.exception_handler(psycopg.errors.DeadlockDetected)
    def concurrent_conflict(request: Request, error: psycopg.OperationalError) -> JSONResponse:
        detail = (
            f"the request collided with a concurrent write and was rolled back; retry it ({error.diag.message_primary})"
        )
        return _problem(503, detail, {"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(psycopg.OperationalError)
    def database_unavailable(request: Request, error: psycopg.OperationalError) -> JSONResponse:
        return _problem(503, "the database is unavailable; retry later", {"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(PoolTimeout)
    def pool_exhausted(request: Request, error: PoolTimeout) -> JSONResponse:
        return _problem(
            503, "the service is busy: no database connection became free in time", {"Retry-After": RETRY_AFTER_SECONDS}
        )
