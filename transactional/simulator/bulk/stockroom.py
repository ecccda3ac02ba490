"""A merchant's batches while its history is drawn: receipts, first-expiry-first allocation of a
whole day's order lines at once, releases, and expiry write-offs.

Quantities here are what is free to sell (on hand minus reserved); units reserved for an order
leave `free` when the order is placed and never come back unless the order is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEVER_EXPIRES = 10**6  # day index of a batch without expiry date


@dataclass(frozen=True)
class Allocation:
    line: np.ndarray  # index into the day's lines
    batch: np.ndarray  # batch index
    quantity: np.ndarray


class Stockroom:
    def __init__(self, skus: int, capacity: int = 4096) -> None:
        self.skus = skus
        self.count = 0
        self.slot = np.zeros(capacity, dtype=np.int64)  # warehouse * skus + sku
        self.expiry_day = np.zeros(capacity, dtype=np.int64)
        self.received_day = np.zeros(capacity, dtype=np.int64)
        self.free = np.zeros(capacity, dtype=np.int64)
        self._open = np.zeros(0, dtype=np.int64)  # batches that may still hold free units

    def receive(self, slot: np.ndarray, quantity: np.ndarray, day: int, expiry_day: np.ndarray) -> np.ndarray:
        """New batches; returns their indexes (in the order given)."""
        added = len(slot)
        if self.count + added > len(self.slot):
            self._grow(self.count + added)
        indexes = np.arange(self.count, self.count + added)
        self.slot[indexes] = slot
        self.free[indexes] = quantity
        self.expiry_day[indexes] = expiry_day
        self.received_day[indexes] = day
        self.count += added
        self._open = np.concatenate([self._open, indexes])
        return indexes

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * len(self.slot))
        for name in ("slot", "expiry_day", "received_day", "free"):
            grown = np.zeros(size, dtype=np.int64)
            grown[: self.count] = getattr(self, name)[: self.count]
            setattr(self, name, grown)

    def release(self, batch: np.ndarray, quantity: np.ndarray) -> None:
        np.add.at(self.free, batch, quantity)
        self._open = np.union1d(self._open, batch)

    def sellable(self, day: int, slots: int, ahead: np.ndarray | int = 0) -> np.ndarray:
        """Free units per slot in batches still sellable `ahead` days from `day`: [slots]."""
        batches = self._open
        margin = ahead[self.slot[batches]] if isinstance(ahead, np.ndarray) else ahead
        keep = self.expiry_day[batches] > day + margin
        return np.bincount(self.slot[batches[keep]], weights=self.free[batches[keep]], minlength=slots).astype(np.int64)

    def expired(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Write off every free unit of batches whose expiry day has come; (batches, units)."""
        batches = self._open
        due = batches[(self.expiry_day[batches] <= day) & (self.free[batches] > 0)]
        units = self.free[due].copy()
        self.free[due] = 0
        return due, units

    def allocate(self, day: int, line_slot: np.ndarray, line_qty: np.ndarray) -> tuple[np.ndarray, Allocation]:
        """Serve the day's lines in the order given, each slot's batches earliest expiry first
        (then earliest received); a line gets what is left when its turn comes. Returns the units
        each line got and the allocations."""
        self._open = self._open[self.free[self._open] > 0]
        batches = self._open[self.expiry_day[self._open] > day]
        batches = batches[
            np.lexsort((batches, self.received_day[batches], self.expiry_day[batches], self.slot[batches]))
        ]
        slots = int(max(line_slot.max(initial=0), self.slot[batches].max(initial=0))) + 1
        available = np.bincount(self.slot[batches], weights=self.free[batches], minlength=slots).astype(np.int64)
        slot_start = np.concatenate([[0], np.cumsum(available)])  # each slot's stock laid end to end
        order = np.lexsort((np.arange(len(line_slot)), line_slot))
        sorted_slot, sorted_qty = line_slot[order], line_qty[order]
        asked_before = np.cumsum(sorted_qty) - sorted_qty
        first_of_slot = np.searchsorted(sorted_slot, sorted_slot, side="left")
        asked_before -= asked_before[first_of_slot]
        start = np.minimum(asked_before, available[sorted_slot])
        end = np.minimum(asked_before + sorted_qty, available[sorted_slot])
        got = np.empty_like(line_qty)
        got[order] = end - start
        lo, hi = slot_start[sorted_slot] + start, slot_start[sorted_slot] + end
        batch_end = np.cumsum(self.free[batches])
        batch_start = batch_end - self.free[batches]
        first = np.searchsorted(batch_end, lo, side="right")
        last = np.searchsorted(batch_start, hi, side="left")
        pieces = np.where(hi > lo, last - first, 0)
        piece_line = np.repeat(np.arange(len(order)), pieces)
        piece_batch = first[piece_line] + (np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces))
        taken = np.minimum(hi[piece_line], batch_end[piece_batch]) - np.maximum(
            lo[piece_line], batch_start[piece_batch]
        )
        allocation = Allocation(order[piece_line], batches[piece_batch], taken)
        np.subtract.at(self.free, allocation.batch, taken)
        return got, allocation
