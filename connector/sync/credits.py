"""The run's credit budget: fetched from Saber only when something would spend it."""

from __future__ import annotations

import threading
from collections.abc import Callable


class CreditBudget:
    """Counts credits spent this run against the balance and the run's launch cap.

    The balance is asked for lazily (`GET /v1/credits`), so a run with nothing to launch
    makes no Saber call at all.
    """

    def __init__(self, fetch_balance: Callable[[], int], max_launches: int | None):
        self._fetch = fetch_balance
        self._lock = threading.Lock()
        self.balance: int | None = None
        self.max_launches = max_launches
        self.launches = 0
        self.spent = 0
        self.exhausted = False  # set on a 402 or when the balance is used up
        self._refused = False  # Saber itself answered 402: no refund makes credits reappear

    def _ensure_balance(self) -> int:
        if self.balance is None:
            self.balance = self._fetch()
        return self.balance

    def reserve_launch(self, cost: int) -> bool:
        """Take one launch slot and `cost` credits, or say no (cap reached or no credits)."""
        with self._lock:
            if self.exhausted or (self.max_launches is not None and self.launches >= self.max_launches):
                return False
            if self._ensure_balance() - self.spent < cost:
                self.exhausted = True
                return False
            self.launches += 1
            self.spent += cost
            return True

    def plan_launch(self) -> bool:
        """Dry runs: take a launch slot without asking for the balance."""
        with self._lock:
            if self.cap_reached:
                return False
            self.launches += 1
            return True

    def reserve(self, cost: int) -> bool:
        """Take `cost` credits for a signal, or say no."""
        with self._lock:
            if self.exhausted:
                return False
            if self._ensure_balance() - self.spent < cost:
                self.exhausted = True
                return False
            self.spent += cost
            return True

    def reserve_many(self, count: int, cost: int) -> int:
        """Take credits for up to `count` signals of `cost` each (a batch); returns how many were taken."""
        with self._lock:
            if self.exhausted or count <= 0:
                return 0
            left = self._ensure_balance() - self.spent
            taken = min(count, left // cost) if cost > 0 else count
            if taken < count:
                self.exhausted = True
            self.spent += taken * cost
            return max(0, taken)

    def refund(self, cost: int, launch: bool = False) -> None:
        """Give back a reservation whose call did not spend anything.

        A budget that looked used up only because of reservations in flight is open again:
        the next reservation checks the balance afresh.
        """
        with self._lock:
            self.spent -= cost
            if launch:
                self.launches -= 1
            if not self._refused:
                self.exhausted = False

    def mark_exhausted(self) -> None:
        """Saber answered 402: stop spending for the rest of the run."""
        with self._lock:
            self.exhausted = True
            self._refused = True

    @property
    def left(self) -> int | None:
        return None if self.balance is None else max(0, self.balance - self.spent)

    @property
    def cap_reached(self) -> bool:
        return self.max_launches is not None and self.launches >= self.max_launches
