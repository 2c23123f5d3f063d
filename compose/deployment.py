"""The composition root: everything one process needs to act, built from the configuration once.

Entry points (the CLI, the console, the scheduler, the eval harness) build a
:class:`Deployment`; runs, single tool calls and rollbacks take their Guard from it. This is the
only place that decides which platform clients, audit log, lease store, kill switch, policy pack,
compliance rules and memory a process uses, and where its traces go (``telemetry``) — so pointing
adpilot at the real services, or at the sandbox, or at a Chroma server, is a change of
configuration and nothing else.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from adpilot import telemetry
from adpilot.compose.platforms import connect
from adpilot.config import Config
from adpilot.leases import LeaseStore, Owner
from adpilot.statedir import KillSwitch, StateDir
from adpilot.tools.audit import AuditLog, Seal, load_key
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.http import RetryPolicy
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.platforms import Platforms

if TYPE_CHECKING:
    from adpilot.memory.store import MemoryStore
    from adpilot.policies.claims import ClaimChecker
    from adpilot.policies.content import ContentGate
    from adpilot.policies.model import Policy
    from adpilot.tools.sandbox import Sandbox


def open_memory(config: Config, enabled: bool) -> MemoryStore | None:
    """The configured memory store, or None; Chroma is imported only when memory is on."""
    if not enabled:
        return None
    from adpilot.memory.store import MemoryStore

    return MemoryStore.from_config(config)


def claim_checker(config: Config) -> ClaimChecker | None:
    """The product feed's claim rules as configured (``feed``): the feed file, else on the sandbox
    the demo world's feed; None (no claim checks) when there is neither."""
    from adpilot.feed import demo_feed_path, load_feed
    from adpilot.policies.claims import ClaimChecker

    path = config.feed.path or (demo_feed_path() if config.uses_sandbox else None)
    if path is None:
        return None
    return ClaimChecker(load_feed(path), markets=config.feed.markets, site_market=config.feed.site_market)


def audit_seal(config: Config) -> Seal:
    """The audit log's key and anchor as configured (``audit``): the key from ``$audit.key_env``,
    else the key file (created on first use); relative paths are taken from the state directory."""
    paths = StateDir(config.state_dir)
    settings = config.audit
    key_file = config.state_dir / settings.key_file if settings.key_file is not None else paths.audit_key
    anchor = config.state_dir / settings.anchor_path if settings.anchor_path is not None else paths.audit_anchor
    key, source = load_key(settings.key_env, key_file, anchor=anchor)
    return Seal(key, source, anchor, settings.checkpoint_every)


def open_audit_log(config: Config) -> AuditLog:
    """The state directory's audit log, keyed and anchored: what every Deployment writes to.
    A log behind its anchor or broken opens with :attr:`AuditLog.problem` set (the Guard then
    refuses every change); a missing or wrong key raises :class:`AuditKeyError`."""
    return AuditLog(StateDir(config.state_dir).audit, seal=audit_seal(config))


def build_guard(
    config: Config,
    platforms: Platforms,
    audit: AuditLog,
    run: RunScope,
    *,
    policy: Policy | None = None,
    content_gate: ContentGate | None = None,
    memory: MemoryStore | None = None,
    leases: LeaseKeeper | None = None,
) -> Guard:
    """The Guard as configured: the policy pack, its compliance rules and evidence registry,
    locale, snapshot TTL, tenant, the state directory's kill switch — so every path that changes
    anything obeys it — and the actor's leases."""
    from adpilot.policies.compliance import ComplianceEngine
    from adpilot.policies.loader import load_policy

    tenant = config.memory.tenant
    return Guard(
        platforms,
        policy or load_policy(config.policy),
        audit,
        run,
        content_gate=content_gate or ComplianceEngine.from_pack(config.policy, claims=claim_checker(config)),
        state_ttl_s=config.guard.state_ttl_s,
        locale=config.locale,
        memory=memory,
        tenant=tenant,
        kill_switch=KillSwitch(config.state_dir),
        leases=leases,
    )


class Deployment:
    """Platforms, audit log, leases, kill switch and memory of one process, from its configuration.

    Anything given is used as is (tests and the eval harness inject an in-process sandbox and
    their own audit log); everything else is built from ``config`` on entering, closed on exit.
    """

    def __init__(
        self,
        config: Config,
        *,
        platforms: Platforms | None = None,
        audit: AuditLog | None = None,
        memory: MemoryStore | None = None,
        sandbox: Sandbox | None = None,
        retry: RetryPolicy | None = None,
        persist_world: bool = True,
    ) -> None:
        # Traces, as configured (off by default): set up once per process, before anything acts.
        telemetry.configure(config.telemetry)
        self.config = config
        self.paths = StateDir(config.state_dir)
        self.memory = memory
        self.kill_switch = KillSwitch(config.state_dir)
        self._platforms = platforms
        self._audit = audit
        self._sandbox = sandbox
        self._retry = retry
        self._persist_world = persist_world
        self._leases: LeaseStore | None = None
        self._owns_audit = False
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Deployment:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        if self._platforms is None:
            self._platforms = await self._stack.enter_async_context(
                connect(self.config, sandbox=self._sandbox, retry=self._retry, persist=self._persist_world)
            )
        if self._audit is None:
            self._audit = open_audit_log(self.config)
            self._owns_audit = True
        self._leases = LeaseStore(self.paths.leases, ttl_s=self.config.guard.lease_ttl_s)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._leases is not None:
            self._leases.close()
        if self._owns_audit and self._audit is not None:
            self._audit.checkpoint()  # seals the rows appended since the last checkpoint, if any
        await self._stack.aclose()

    @property
    def platforms(self) -> Platforms:
        assert self._platforms is not None, "enter the Deployment first"
        return self._platforms

    @property
    def audit(self) -> AuditLog:
        assert self._audit is not None, "enter the Deployment first"
        return self._audit

    @property
    def leases(self) -> LeaseStore:
        assert self._leases is not None, "enter the Deployment first"
        return self._leases

    def keeper(self, label: str, *, patient: bool = True) -> LeaseKeeper:
        """A new actor's lease holder; an impatient one refuses at once instead of waiting."""
        wait = self.config.guard.lease_wait_s if patient else 0.0
        return LeaseKeeper(self.leases, Owner.here(label), wait_s=wait)

    def guard(self, scope: RunScope, keeper: LeaseKeeper) -> Guard:
        return build_guard(self.config, self.platforms, self.audit, scope, memory=self.memory, leases=keeper)
