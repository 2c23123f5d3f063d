"""The proposal: the unit of intended change. Agents propose; only the Guard executes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Proposal:
    role: str
    tool: str
    args: dict[str, Any]
    rationale: str
    evidence: dict[str, Any] = field(default_factory=dict)
    expected_impact: str = ""

    @property
    def id(self) -> str:
        """Stable for the same change, so a re-planned identical proposal executes once."""
        payload = json.dumps([self.role, self.tool, self.args], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "tool": self.tool,
            "args": self.args,
            "rationale": self.rationale,
            "evidence": self.evidence,
            "expected_impact": self.expected_impact,
        }
