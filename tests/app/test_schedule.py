"""The scheduler: cron entries, no overlapping runs of the same accounts, clean SIGTERM."""

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys

import pytest

from adpilot.app.schedule import ScheduledMaintenance, build_scheduler
from adpilot.config import Config, ScheduleEntry
from adpilot.errors import ConfigError

DE, AT = "1112223333", "4445556666"


def test_entries_become_cron_jobs():
    config = Config(
        schedule=[
            ScheduleEntry(name="nightly", cron="0 5 * * *"),
            ScheduleEntry(name="de", cron="30 * * * *", accounts=[DE]),
        ]
    )
    scheduler = build_scheduler(config, ScheduledMaintenance(config, lambda c, a, s: asyncio.sleep(0)))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"nightly", "de"}
    assert "hour='5'" in str(jobs["nightly"].trigger) and jobs["de"].max_instances == 1


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([], "no entries"),
        ([ScheduleEntry(name="x", cron="61 * * * *")], "invalid"),
        ([ScheduleEntry(name="x", cron="0 5 * * *", accounts=["9999999999"])], "9999999999"),
    ],
)
def test_bad_schedules_name_the_problem(entries, fragment):
    config = Config(schedule=entries)
    with pytest.raises(ConfigError, match=fragment):
        build_scheduler(config, ScheduledMaintenance(config, lambda c, a, s: asyncio.sleep(0)))


async def test_the_same_accounts_are_never_maintained_twice_at_once():
    release = asyncio.Event()
    calls = []

    async def maintain(config, accounts, shutdown):
        calls.append(accounts)
        await release.wait()
        return []

    config = Config()
    jobs = ScheduledMaintenance(config, maintain)
    first = asyncio.create_task(jobs.fire(ScheduleEntry(name="all", cron="0 5 * * *")))
    await asyncio.sleep(0)
    assert await jobs.fire(ScheduleEntry(name="de", cron="0 5 * * *", accounts=[DE])) == "skipped"
    release.set()
    assert await first == "done"
    assert await jobs.fire(ScheduleEntry(name="de", cron="0 5 * * *", accounts=[DE])) == "done"
    assert calls == [[DE, AT], [DE]]


async def test_a_failing_run_does_not_stop_the_scheduler():
    async def maintain(config, accounts, shutdown):
        raise RuntimeError("platform down")

    jobs = ScheduledMaintenance(Config(), maintain)
    assert await jobs.fire(ScheduleEntry(name="x", cron="0 5 * * *")) == "failed"
    assert jobs.busy == set()


async def test_after_every_firing_the_scheduler_says_when_the_entry_runs_next():
    said: list[str] = []
    upcoming = dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)

    async def maintain(config, accounts, shutdown):
        if accounts == [AT]:
            raise RuntimeError("platform down")
        return []

    jobs = ScheduledMaintenance(Config(), maintain, say=said.append, next_run=lambda name: upcoming)
    await jobs.fire(ScheduleEntry(name="nightly", cron="0 5 * * *", accounts=[DE]))
    await jobs.fire(ScheduleEntry(name="austria", cron="0 5 * * *", accounts=[AT]))
    assert said == [
        "nightly: done (no runs); next run 2026-12-04 05:00 UTC",
        "austria: failed: RuntimeError: platform down; next run 2026-12-04 05:00 UTC",
    ]


def test_schedule_stops_cleanly_on_sigterm(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nschedule: [{{name: nightly, cron: '0 5 * * *'}}]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "adpilot.app.cli", "--config", str(config), "schedule"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "scheduler started" in line:
            assert "nightly at" in line
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 3  # stopped on request
    assert "scheduler stopped" in process.stderr.read()


async def test_draining_lets_a_running_maintenance_finish_its_step_instead_of_cancelling_it():
    started, finished = asyncio.Event(), []

    async def maintain(config, accounts, shutdown):
        started.set()
        await shutdown.wait()  # a run notices the request between two steps ...
        finished.append(accounts)  # ... and ends normally: checkpointed, leases released
        return []

    jobs = ScheduledMaintenance(Config(), maintain)
    firing = asyncio.create_task(jobs.fire(ScheduleEntry(name="all", cron="0 5 * * *")))
    await started.wait()
    await jobs.drain()
    assert await firing == "done" and finished == [[DE, AT]]
    assert await jobs.fire(ScheduleEntry(name="all", cron="0 5 * * *")) == "skipped"  # no new firing after
