"""Controls: the kill switch (an admin engages it with a reason and a confirmation, or releases it),
the schedule with its next run times, and the policy in force."""

from __future__ import annotations

import datetime as dt

from starlette.responses import Response
from starlette.routing import Route

from adpilot.app.web.core import Ctx, Refused, page, reason_and_confirmation, respond
from adpilot.app.web.html import Markup, table, tag
from adpilot.config import ScheduleEntry
from adpilot.statedir import KillSwitch

NEXT_RUNS = 3


def next_runs(entry: ScheduleEntry, now: dt.datetime, count: int = NEXT_RUNS) -> list[dt.datetime]:
    """The next ``count`` times (UTC) the scheduler fires ``entry``, after ``now``."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(entry.cron, timezone="UTC")
    times: list[dt.datetime] = []
    previous = None
    moment = now
    while len(times) < count:
        upcoming = trigger.get_next_fire_time(previous, moment)
        if upcoming is None:
            break
        times.append(upcoming)
        previous = upcoming
        moment = upcoming + dt.timedelta(seconds=1)
    return times


def _kill_switch(ctx: Ctx) -> Markup:
    t = ctx.t
    assert ctx.session is not None
    details = KillSwitch(ctx.config.state_dir).details()
    if details is None:
        state = tag("p", t["kill.off"], class_="ok", role="status")
    else:
        state = tag(
            "p",
            t["kill.on"].format(
                by=details.get("by") or t["unknown"],
                at=str(details.get("at") or "")[:16].replace("T", " "),
                reason=details.get("reason") or "-",
            ),
            class_="error",
            role="status",
        )
    if not ctx.session.user.may("admin"):
        return tag("section", tag("h2", t["kill.title"]), state)
    if details is None:
        form = tag(
            "form",
            ctx.csrf,
            *reason_and_confirmation("kill", t["kill.reason"], t["kill.confirm"]),
            tag(
                "button",
                t["kill.engage"],
                type="submit",
                name="action",
                value="engage",
                class_="danger",
                data_confirm=t["kill.confirm"],
            ),
            method="post",
            action="/controls/kill-switch",
        )
    else:
        form = tag(
            "form",
            ctx.csrf,
            tag("button", t["kill.release"], type="submit", name="action", value="release"),
            method="post",
            action="/controls/kill-switch",
        )
    return tag("section", tag("h2", t["kill.title"]), state, form)


def _schedule(ctx: Ctx) -> Markup:
    t = ctx.t
    if not ctx.config.schedule:
        return tag("section", tag("h2", t["schedule.title"]), tag("p", t["schedule.none"]))
    now = dt.datetime.now(dt.UTC)
    rows = []
    for entry in ctx.config.schedule:
        try:
            upcoming = ", ".join(f"{when:%Y-%m-%d %H:%M}" for when in next_runs(entry, now))
        except ValueError as exc:
            upcoming = f"invalid cron: {exc}"
        rows.append([entry.name, entry.cron, ", ".join(entry.accounts) or t["col.accounts"] + ": *", upcoming])
    headers = [t["col.entry"], t["col.cron"], t["col.accounts"], t["col.next"]]
    return tag("section", tag("h2", t["schedule.title"]), table(headers, rows))


def _policy(ctx: Ctx) -> Markup:
    import yaml

    from adpilot.policies import load_policy

    t = ctx.t
    policy = load_policy(ctx.config.policy)
    whole = yaml.safe_dump(policy.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True)
    return tag(
        "section",
        tag("h2", t["policy.title"]),
        tag("p", t["policy.value"].format(name=policy.name, version=policy.version, hash=policy.hash)),
        tag("details", tag("summary", t["policy.whole"]), tag("pre", whole)),
    )


@page("viewer")
async def controls(ctx: Ctx) -> Response:
    return respond(ctx, ctx.t["controls.title"], [_kill_switch(ctx), _schedule(ctx), _policy(ctx)])


@page("admin")
async def kill_switch(ctx: Ctx) -> Response:
    t = ctx.t
    switch = KillSwitch(ctx.config.state_dir)
    action = ctx.form.get("action")
    if action == "engage":
        reason = ctx.form.get("reason", "").strip()
        if ctx.form.get("confirm") != "yes" or not reason:
            raise Refused(400, t["kill.unconfirmed"] if reason else t["kill.reason"] + ": ?")
        switch.engage(reason, by=ctx.name)
        said = t["kill.engaged"]
    elif action == "release":
        said = t["kill.released"] if switch.release() else t["kill.was_off"]
    else:
        raise Refused(400, "action: engage or release")
    return respond(ctx, ctx.t["controls.title"], [tag("p", said, role="status"), _kill_switch(ctx), _schedule(ctx)])


routes = [
    Route("/controls", controls, methods=["GET"]),
    Route("/controls/kill-switch", kill_switch, methods=["POST"]),
]
