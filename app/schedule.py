"""Scheduled maintenance: APScheduler fires `maintain` on each schedule entry's cron expression.

Entries name account groups; two firings never work on the same account at once (a firing whose
accounts are busy is skipped and logged, never queued behind the other). SIGTERM and SIGINT stop
the scheduler after the running maintenance finishes its current step's checkpoint.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from adpilot.config import Config, ScheduleEntry
from adpilot.errors import ConfigError
from adpilot.logs import get_logger

_log = get_logger("adpilot.schedule")

MaintainFn = Callable[[Config, list[str]], Awaitable[Any]]


class ScheduledMaintenance:
    def __init__(self, config: Config, maintain: MaintainFn) -> None:
        self.config = config
        self.maintain = maintain
        self.busy: set[str] = set()

    async def fire(self, entry: ScheduleEntry) -> str:
        """Run one entry's maintenance unless one of its accounts is already being maintained."""
        accounts = entry.accounts or list(self.config.accounts)
        overlap = self.busy.intersection(accounts)
        if overlap:
            _log.warning("schedule.skipped", entry=entry.name, busy=sorted(overlap))
            return "skipped"
        self.busy.update(accounts)
        try:
            _log.info("schedule.run", entry=entry.name, accounts=accounts)
            results = await self.maintain(self.config, accounts)
            _log.info("schedule.done", entry=entry.name, runs=[getattr(r, "status", "?") for r in results or []])
            return "done"
        except Exception as exc:  # a failed run must not stop the scheduler; it is logged and retried next time
            _log.error("schedule.failed", entry=entry.name, error=str(exc))
            return "failed"
        finally:
            self.busy.difference_update(accounts)


def build_scheduler(config: Config, jobs: ScheduledMaintenance) -> Any:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    if not config.schedule:
        raise ConfigError("schedule: no entries in the configuration (e.g. [{name: nightly, cron: '0 5 * * *'}])")
    scheduler = AsyncIOScheduler(timezone="UTC")
    for entry in config.schedule:
        unknown = sorted(set(entry.accounts) - set(config.accounts))
        if unknown:
            raise ConfigError(f"schedule entry {entry.name!r}: account(s) {', '.join(unknown)} are not in accounts")
        try:
            trigger = CronTrigger.from_crontab(entry.cron, timezone="UTC")
        except ValueError as exc:
            raise ConfigError(f"schedule entry {entry.name!r}: cron {entry.cron!r} is invalid: {exc}") from exc
        scheduler.add_job(jobs.fire, trigger, args=[entry], id=entry.name, max_instances=1, coalesce=True)
    return scheduler


async def run_scheduler(config: Config, maintain: MaintainFn, *, ready: Callable[[str], None]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = build_scheduler(config, ScheduledMaintenance(config, maintain))
    scheduler.start()
    upcoming = ", ".join(f"{job.id} at {job.next_run_time:%Y-%m-%d %H:%M} UTC" for job in scheduler.get_jobs())
    ready(f"scheduler started: {upcoming}")
    await stop.wait()
    scheduler.shutdown(wait=False)
    ready("scheduler stopped")
    return 0
