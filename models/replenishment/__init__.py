"""Replenishment: pure functions from stock positions and forecasts to suggested purchase quantities."""
