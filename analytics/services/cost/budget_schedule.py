"""Budgets are checked on a schedule: one worker of all processes and replicas at a time.

Each worker runs a periodic job (analytics.services.kernel.periodic) that wakes every
``interval`` seconds and tries to take the ``budgets`` lease in the database (the same lease table the inventory sync uses). Whoever takes
it evaluates every budget (one cost query per scope, :meth:`BudgetService.check`), which records
``COST_THRESHOLD_EXCEEDED`` for budgets that crossed; the lease lasts one interval, so the others
skip that round. A failed check (Prometheus down) is logged and tried again next round.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from analytics.clock import Clock
from analytics.errors import AnalyticsError
from analytics.services.cost.budgets import BudgetService
from analytics.services.kernel.periodic import Periodic, holder_id
from analytics.store import sync as sync_store
from analytics.store.db import Database

log = logging.getLogger(__name__)

JOB = "budgets"


class BudgetSchedule:
    def __init__(
        self, database: Database, clock: Clock, budgets: BudgetService, interval_seconds: int
    ) -> None:
        self._db = database
        self._clock = clock
        self._budgets = budgets
        self.interval_seconds = interval_seconds
        self._job = Periodic("budget-check", self.run_if_due, interval_seconds)

    def run_if_due(self) -> bool:
        """Check the budgets when this worker takes the lease; True when it did."""
        now = self._clock.now()
        expires = now + timedelta(seconds=max(self.interval_seconds - 1, 1))
        taken = self._db.write(
            lambda conn: sync_store.acquire_lease(conn, JOB, holder_id(), now, expires)
        )
        if not taken:
            return False
        try:
            self._budgets.check()
        except AnalyticsError as exc:
            log.warning("budget check failed, trying again next round: %s", exc.message)
        return True

    def start(self) -> None:
        self._job.start()

    def stop(self) -> None:
        self._job.stop()
