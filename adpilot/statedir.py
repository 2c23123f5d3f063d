"""The state directory: every file adpilot keeps between commands, named in one place.

One directory (default ``.adpilot/``) holds a deployment's durable state, so that another
process — a second CLI command, the scheduler, a resumed run — finds exactly what the first
left: checkpoints, the audit log (with its key file and anchor, each in a directory of its own
unless configured elsewhere), the run registry, the leases, the kill-switch flag, the sandbox
world and the embedded Chroma store.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints.sqlite"

    @property
    def audit(self) -> Path:
        return self.root / "audit.sqlite3"

    @property
    def audit_key(self) -> Path:
        """The audit log's key file (default of ``audit.key_file``): outside the database, 0600."""
        return self.root / "keys" / "audit.key"

    @property
    def audit_anchor(self) -> Path:
        """The audit log's anchor (default of ``audit.anchor_path``): sealed checkpoints of its head."""
        return self.root / "anchor" / "audit.anchor"

    @property
    def registry(self) -> Path:
        return self.root / "runs.sqlite"

    @property
    def leases(self) -> Path:
        return self.root / "leases.sqlite"

    @property
    def kill_switch(self) -> Path:
        return self.root / "KILL_SWITCH"

    @property
    def sandbox_world(self) -> Path:
        return self.root / "sandbox-world.json"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    @property
    def console_session(self) -> Path:
        return self.root / "console-session.json"

    @property
    def archive(self) -> Path:
        return self.root / "archive"


class KillSwitch:
    """A flag file in the state directory: any process can engage it, and the Guard of every
    process refuses every change while it exists (runs, ``tool call``, approvals, rollback)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = StateDir(state_dir).kill_switch

    def engage(self, reason: str = "", by: str = "operator") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"reason": reason, "by": by, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self.path.write_text(json.dumps(record), encoding="utf-8")

    def release(self) -> bool:
        existed = self.path.exists()
        self.path.unlink(missing_ok=True)
        return existed

    @property
    def engaged(self) -> bool:
        return self.path.exists()

    def details(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {"reason": "unreadable flag file"}

    def message(self) -> str | None:
        """Why nothing may change now, in one sentence for a person; None when released."""
        details = self.details()
        if details is None:
            return None
        parts = []
        if details.get("by"):
            parts.append(f"by {details['by']}")
        if details.get("at"):
            parts.append(f"since {str(details['at'])[:16].replace('T', ' ')} UTC")
        if details.get("reason"):
            parts.append(f"reason: {details['reason']}")
        said = f" ({', '.join(parts)})" if parts else ""
        return f"the kill switch is engaged{said}; nothing changes until `adpilot resume`"
