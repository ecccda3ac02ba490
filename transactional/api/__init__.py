"""The HTTP API (`coopcast api`): FastAPI over the same service functions as every other writer."""

from transactional.api.app import create_app

__all__ = ["create_app"]
