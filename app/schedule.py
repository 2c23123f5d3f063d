"""Scheduled maintenance: APScheduler fires `maintain` on each schedule entry's cron expression.

Entries name account groups; two firings never work on the same account at once (a firing whose
accounts are busy is skipped and logged, never queued behind the other) — and across processes
the accounts' leases keep a scheduler and a person's `adpilot maintain` apart. The first SIGTERM
or SIGINT stops new firings, lets each running maintenance finish its step in flight (checkpoint,
leases released) and exits 3; a second aborts at once. APScheduler's own shutdown would cancel a
running job mid-step, so the scheduler is only shut down once no job runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from adpilot.app.signals import graceful
from adpilot.config import Config, ScheduleEntry
from adpilot.errors import AdpilotError, ConfigError
from adpilot.logs import get_logger

_log = get_logger("adpilot.schedule")

MaintainFn = Callable[[Config, list[str], asyncio.Event], Awaitable[Any]]


class ScheduledMaintenance:
    def __init__(
        self,
        config: Config,
        maintain: MaintainFn,
        *,
        say: Callable[[str], None] | None = None,
        next_run: Callable[[str], dt.datetime | None] | None = None,
    ) -> None:
        self.config = config
        self.maintain = maintain
        self.busy: set[str] = set()
        self.shutdown = asyncio.Event()
        self.running: set[asyncio.Task[Any]] = set()
        self.say = say
        self.next_run = next_run

    def _tell(self, entry: ScheduleEntry, outcome: str) -> None:
        """After every firing, one line for whoever watches: what happened and when it runs next."""
        if self.say is not None:
            upcoming = self.next_run(entry.name) if self.next_run is not None else None
            when = f"{upcoming:%Y-%m-%d %H:%M} UTC" if upcoming is not None else "not scheduled again"
            self.say(f"{entry.name}: {outcome}; next run {when}")

    async def fire(self, entry: ScheduleEntry) -> str:
        """Run one entry's maintenance unless one of its accounts is already being maintained."""
        if self.shutdown.is_set():
            return "skipped"
        accounts = entry.accounts or list(self.config.accounts)
        overlap = self.busy.intersection(accounts)
        if overlap:
            _log.warning("schedule.skipped", entry=entry.name, busy=sorted(overlap))
            self._tell(entry, f"skipped (account(s) {', '.join(sorted(overlap))} still being maintained)")
            return "skipped"
        self.busy.update(accounts)
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            _log.info("schedule.run", entry=entry.name, accounts=accounts)
            results = await self.maintain(self.config, accounts, self.shutdown)
            statuses = [getattr(r, "status", "?") for r in results or []]
            _log.info("schedule.done", entry=entry.name, runs=statuses)
            self._tell(entry, f"done ({', '.join(statuses) or 'no runs'})")
            return "done"
        except AdpilotError as exc:  # busy accounts, a platform down: logged, tried again at the next firing
            _log.error("schedule.failed", entry=entry.name, error=str(exc))
            self._tell(entry, f"failed: {exc}")
            return "failed"
        except Exception as exc:  # a failed run must not stop the scheduler; it is logged and retried next time
            _log.error("schedule.failed", entry=entry.name, error=f"{type(exc).__name__}: {exc}")
            self._tell(entry, f"failed: {type(exc).__name__}: {exc}")
            return "failed"
        finally:
            self.busy.difference_update(accounts)
            if task is not None:
                self.running.discard(task)

    async def drain(self) -> None:
        """Ask running maintenance to stop after its step in flight, and wait until it has."""
        self.shutdown.set()
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)


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
    """Run until a signal; exit code 3 (stopped on request) once running maintenance has checkpointed."""
    jobs = ScheduledMaintenance(config, maintain, say=ready)
    scheduler = build_scheduler(config, jobs)

    def next_run(name: str) -> dt.datetime | None:
        job = scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    jobs.next_run = next_run
    stop = asyncio.Event()
    with graceful(stop, say=False):
        scheduler.start()
        upcoming = ", ".join(f"{job.id} at {job.next_run_time:%Y-%m-%d %H:%M} UTC" for job in scheduler.get_jobs())
        ready(f"scheduler started: {upcoming}")
        await stop.wait()
        scheduler.pause()
        ready(f"stopping: {len(jobs.running)} maintenance run(s) finish their current step")
        await jobs.drain()
        scheduler.shutdown(wait=False)
    ready("scheduler stopped")
    return 3
