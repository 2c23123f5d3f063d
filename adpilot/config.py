"""Configuration: pydantic models, loaded from YAML with environment overrides.

Precedence, lowest first: built-in defaults → the config file (``--config FILE``, else
``$ADPILOT_CONFIG``, else ``./config.yaml`` when present) → environment overrides written as
``ADPILOT__SECTION__KEY=value`` (values parsed as YAML scalars). Secrets are never config
values: the file names the environment variable that holds each one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adpilot.errors import ConfigError, SourceError
from adpilot.sources import Locator, format_validation_error, load_yaml, parse_yaml

ENV_CONFIG = "ADPILOT_CONFIG"
ENV_PREFIX = "ADPILOT__"
SANDBOX = "sandbox"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: human-readable on a terminal, JSON lines otherwise"
    )


class SandboxConfig(_Section):
    seed: int = Field(7, description="seed of the demo world the sandbox starts from")


class GoogleAdsConfig(_Section):
    base_url: str = Field(
        SANDBOX,
        description="'sandbox' for the in-process sandbox, else e.g. https://googleads.googleapis.com",
    )
    api_version: str = Field("v17", pattern=r"^v\d+$")
    developer_token_env: str = "GOOGLE_ADS_DEVELOPER_TOKEN"
    access_token_env: str = "GOOGLE_ADS_ACCESS_TOKEN"
    login_customer_id: str | None = Field(None, pattern=r"^\d{10}$")
    requests_per_second: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0)


class WordPressConfig(_Section):
    base_url: str = Field(SANDBOX, description="'sandbox' or the site URL, e.g. https://shop.example")
    username: str = "adpilot"
    app_password_env: str = "WORDPRESS_APP_PASSWORD"
    requests_per_second: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0)


class GuardConfig(_Section):
    state_ttl_s: float = Field(
        60.0, ge=0, description="how long a prefetched platform value may judge a change; 0 = always re-read"
    )
    lease_ttl_s: float = Field(
        30.0, gt=0, description="an account's lease lapses this long after its holder's last heartbeat"
    )
    lease_wait_s: float = Field(
        5.0, ge=0, description="how long a command waits for an account another actor is working on"
    )


class AuditConfig(_Section):
    """The audit log's key and anchor (tools/audit.py): kept outside its database."""

    key_env: str = Field(
        "ADPILOT_AUDIT_KEY", description="environment variable holding the audit key (32+ characters); else key_file"
    )
    key_file: Path | None = Field(
        None,
        description="the key file, created 0600 on first use; null: <state_dir>/keys/audit.key; relative: to state_dir",
    )
    anchor_path: Path | None = Field(
        None,
        description="append-only file of sealed head checkpoints; null: <state_dir>/anchor/audit.anchor",
    )
    checkpoint_every: int = Field(
        1, ge=1, description="seal a checkpoint of the head after this many rows; 1: every append"
    )


class MemoryConfig(_Section):
    server_url: str | None = Field(None, description="Chroma server URL; embedded when unset")
    embedding: str = Field(
        "default", description="default | use+e5 | use-multilingual-v3 | e5-small-q4 | hashing | langchain:…"
    )
    tenant: str = Field("alpine-outfitters", pattern=r"^[a-z0-9][a-z0-9-]*$", description="whose memory this is")


class ScheduleEntry(_Section):
    name: str
    cron: str = Field(..., description="five-field cron expression, e.g. '0 5 * * *'")
    accounts: list[str] = Field(default_factory=list, description="empty: all accounts")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected five fields: minute hour day month weekday")
        return value


class RunsConfig(_Section):
    """When a run stops (agents/stop.py): steps, model tokens and cost, tool errors, spend anomalies."""

    max_steps: int = Field(60, ge=1, description="graph steps a run may take before it stops (max_steps)")
    max_tokens: int = Field(200_000, ge=1, description="model tokens (input + output) a run may use (budget)")
    max_cost_usd: Decimal = Field(
        Decimal("5"), gt=0, decimal_places=6, description="model cost in USD a run may spend, priced by prices (budget)"
    )
    max_tool_errors: int = Field(8, ge=1, description="failed or malformed tool calls before the run stops")
    anomaly_factor: Decimal = Field(
        Decimal("3"), gt=1, description="yesterday's spend above this multiple of the daily mean stops maintenance"
    )
    anomaly_min_history_days: int = Field(
        7, ge=1, le=13, description="days with spend before yesterday (of the 13 read) needed to judge an anomaly"
    )


class ModelPrice(_Section):
    """What a model costs, in USD per million tokens (decimal strings, at most 6 decimal places)."""

    input_per_mtok_usd: Decimal = Field(..., ge=0, decimal_places=6)
    output_per_mtok_usd: Decimal = Field(..., ge=0, decimal_places=6)


def _price(input_usd: str, output_usd: str) -> ModelPrice:
    return ModelPrice(input_per_mtok_usd=Decimal(input_usd), output_per_mtok_usd=Decimal(output_usd))


# List prices (USD per million tokens) of the models of the providers adpilot supports; check
# your provider's price list and override in config.yaml. "KIND:*" prices every model of a kind
# not named exactly (local servers cost nothing); a spec without a price cannot run.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "scripted": _price("0", "0"),
    "ollama:*": _price("0", "0"),
    "openai-compatible:*": _price("0", "0"),
    "openai:gpt-4o": _price("2.50", "10.00"),
    "openai:gpt-4o-mini": _price("0.15", "0.60"),
    "openai:gpt-4.1": _price("2.00", "8.00"),
    "openai:gpt-4.1-mini": _price("0.40", "1.60"),
    "openai:gpt-4.1-nano": _price("0.10", "0.40"),
    "openai:o4-mini": _price("1.10", "4.40"),
    "anthropic:claude-3-5-haiku-latest": _price("0.80", "4.00"),
    "anthropic:claude-3-7-sonnet-latest": _price("3.00", "15.00"),
    "anthropic:claude-sonnet-4-0": _price("3.00", "15.00"),
    "anthropic:claude-opus-4-0": _price("15.00", "75.00"),
    "google:gemini-2.0-flash": _price("0.10", "0.40"),
    "google:gemini-2.5-flash": _price("0.30", "2.50"),
    "google:gemini-2.5-pro": _price("1.25", "10.00"),
}


class Config(_Section):
    state_dir: Path = Path(".adpilot")
    log: LogConfig = LogConfig()
    model: str = Field("none", description="none | scripted:FILE | openai:MODEL | …")
    locale: Literal["de", "en"] = Field("de", description="language of the copy; picks the compliance rules")
    policy: str = Field("default", description="a shipped policy pack name or a path")
    approver: str | None = Field(
        None, min_length=1, description="who decides approvals from this machine's CLI; unset: the OS user name"
    )
    accounts: list[str] = Field(
        default_factory=lambda: ["1112223333", "4445556666"],
        description="Google Ads customer ids (10 digits) the runs cover",
    )
    sandbox: SandboxConfig = SandboxConfig()
    google_ads: GoogleAdsConfig = GoogleAdsConfig()
    wordpress: WordPressConfig = WordPressConfig()
    guard: GuardConfig = GuardConfig()
    audit: AuditConfig = AuditConfig()
    memory: MemoryConfig = MemoryConfig()
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    runs: RunsConfig = RunsConfig()
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="model spec (or KIND:*) -> USD per million input/output tokens; merged over the shipped list",
    )

    @field_validator("prices", mode="before")
    @classmethod
    def _over_the_shipped_prices(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {**DEFAULT_PRICES, **value}
        return value

    @field_validator("accounts")
    @classmethod
    def _customer_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[1-9][0-9]{9}", item):
                raise ValueError(f"{item!r} is not a 10-digit customer id (ASCII digits, no dashes)")
        return value

    @property
    def uses_sandbox(self) -> bool:
        return SANDBOX in (self.google_ads.base_url, self.wordpress.base_url)


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Collect ``ADPILOT__A__B=value`` into a nested dict; also return key → variable name."""
    tree: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        try:
            value = parse_yaml(raw, f"${name}")[0] if raw.strip() else ""
        except SourceError:
            value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another override")
        node[path[-1]] = value
        origins[".".join(path)] = name
    return tree, origins


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """Which config file applies: the flag, else $ADPILOT_CONFIG, else ./config.yaml if present."""
    if explicit:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    default = Path("config.yaml")
    return default if default.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load configuration; every problem raises :class:`ConfigError` naming key, value and fix."""
    environ = os.environ if environ is None else environ
    file = config_path(path, environ)
    data: Any = {}
    locator = Locator("<defaults>", None)
    if file is not None:
        try:
            data, locator = load_yaml(file)
        except SourceError as exc:
            raise ConfigError(str(exc)) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping of settings at the top level")
    overrides, origins = _env_overrides(environ)
    merged = _merge(data, overrides)
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        message = format_validation_error(exc, locator, what="configuration", origins=origins)
        raise ConfigError(message) from exc
    if file is not None and not config.state_dir.is_absolute():
        config = config.model_copy(update={"state_dir": file.parent / config.state_dir})
    return config


def dump_defaults() -> str:
    """The embedded defaults as YAML (what ``config.yaml`` ships)."""
    data = Config().model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


__all__ = [
    "AuditConfig",
    "Config",
    "GoogleAdsConfig",
    "LogConfig",
    "MemoryConfig",
    "ModelPrice",
    "RunsConfig",
    "SandboxConfig",
    "ScheduleEntry",
    "WordPressConfig",
    "dump_defaults",
    "load_config",
    "parse_yaml",
]
