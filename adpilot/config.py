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
from adpilot.google_ads_versions import DEFAULT_API_VERSION, NEWEST_VERIFIED, is_sunset, sunset_message
from adpilot.sources import Locator, format_validation_error, load_yaml, looks_secret, parse_yaml

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
    api_version: str = Field(
        DEFAULT_API_VERSION,
        pattern=r"^v\d+$",
        description=f"Google Ads API version; {NEWEST_VERIFIED} is the newest adpilot was verified against",
    )
    developer_token_env: str = "GOOGLE_ADS_DEVELOPER_TOKEN"
    # OAuth2: a refresh token (exchanged for access tokens, renewed before they expire) …
    client_id_env: str = Field("GOOGLE_ADS_CLIENT_ID", description="environment variable holding the OAuth client id")
    client_secret_env: str = Field(
        "GOOGLE_ADS_CLIENT_SECRET", description="environment variable holding the OAuth client secret"
    )
    refresh_token_env: str = Field(
        "GOOGLE_ADS_REFRESH_TOKEN", description="environment variable holding the OAuth refresh token"
    )
    token_url: str = Field("https://oauth2.googleapis.com/token", description="the OAuth2 token endpoint")
    # … or a static access token (expires after about an hour: for short manual runs only)
    access_token_env: str = Field(
        "GOOGLE_ADS_ACCESS_TOKEN", description="used when the refresh-token variables are not all set"
    )
    login_customer_id: str | None = Field(
        None, pattern=r"^\d{10}$", description="the manager account the calls go through (login-customer-id header)"
    )
    requests_per_second: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0, description="per attempt")
    max_retry_delay_s: float = Field(
        60.0, ge=0, description="a retry delay the server asks for beyond this is not waited for: the call fails"
    )
    deadline_s: float = Field(120.0, gt=0, description="one call, all attempts and waits included")

    @field_validator("api_version")
    @classmethod
    def _not_sunset(cls, value: str) -> str:
        if is_sunset(value):
            raise ValueError(sunset_message(value))
        return value


class WordPressConfig(_Section):
    base_url: str = Field(SANDBOX, description="'sandbox' or the site URL, e.g. https://shop.example")
    username: str = "adpilot"
    app_password_env: str = "WORDPRESS_APP_PASSWORD"
    seo_fields: Literal["adpilot", "yoast", "rankmath"] = Field(
        "adpilot",
        description=(
            "where meta descriptions (and JSON-LD) are written: adpilot = the companion plugin "
            "integrations/wordpress/adpilot-seo, yoast = Yoast SEO, rankmath = Rank Math (both need the companion "
            "plugin too, which registers their meta key for the REST API)"
        ),
    )
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


class FeedConfig(_Section):
    """The product feed claims in copy are checked against (adpilot/feed.py, docs/COMPLIANCE.md)."""

    path: Path | None = Field(
        None,
        description="a .json, .yaml, .csv or Merchant Center .xml feed; null: the demo feed on the sandbox, else none",
    )
    markets: dict[str, str] = Field(
        default_factory=lambda: {"1112223333": "DE", "4445556666": "AT"},
        description="Google Ads customer id -> the market (DE, AT, …) whose feed facts its ads must match",
    )
    site_market: str | None = Field("DE", pattern=r"^[A-Z]{2}$", description="the market of the website's pages")

    @field_validator("markets")
    @classmethod
    def _market_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for account, market in value.items():
            if not re.fullmatch(r"[1-9][0-9]{9}", account):
                raise ValueError(f"{account!r} is not a 10-digit customer id (ASCII digits, no dashes)")
            if not re.fullmatch(r"[A-Z]{2}", market):
                raise ValueError(f"{market!r} is not a market code (two capital letters, e.g. DE)")
        return value


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
    retention_days: int | None = Field(
        None,
        gt=1,
        description="`adpilot audit archive` moves rows older than this into sealed archive segments; null: keep "
        "everything. Must be longer than the policy's longest window (24 h limits, 72 h approvals)",
    )
    archive_dir: Path | None = Field(
        None, description="where archive segments go; null: <state_dir>/audit-archive; relative: to state_dir"
    )


class MemoryConfig(_Section):
    server_url: str | None = Field(None, description="Chroma server URL; embedded when unset")
    embedding: str = Field(
        "default", description="default | use+e5 | use-multilingual-v3 | e5-small-q4 | hashing | langchain:…"
    )
    tenant: str = Field("alpine-outfitters", pattern=r"^[a-z0-9][a-z0-9-]*$", description="whose memory this is")


class TelemetryConfig(_Section):
    """OpenTelemetry traces (adpilot/telemetry.py, docs/TRACING.md): off unless enabled; needs the otel extra."""

    enabled: bool = Field(False, description="export spans of runs, nodes, model and tool calls over OTLP")
    otlp_endpoint: str | None = Field(
        None,
        description="collector URL, e.g. http://localhost:4318; null: $OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT",
    )
    protocol: Literal["http/protobuf", "grpc"] | None = Field(
        None, description="OTLP transport; null: $OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, else http/protobuf"
    )
    service_name: str = Field("adpilot", min_length=1, description="the service.name resource attribute")
    capture_content: bool = Field(
        False, description="also record tool arguments and results and model messages (never secrets)"
    )


class ConsoleConfig(_Section):
    """The web console (`adpilot serve`, docs/CONSOLE.md): where it listens."""

    host: str = Field(
        "127.0.0.1",
        min_length=1,
        pattern=r"^[A-Za-z0-9.:\[\]-]+$",
        description="address to listen on; beyond loopback, serve it over TLS (the console warns otherwise)",
    )
    port: int = Field(8080, ge=1, le=65535, description="TCP port")


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


class ModelsConfig(_Section):
    """How the chat model of ``model`` is called (agents/llm.py): time limit, retries, tool calls."""

    timeout_s: float = Field(60, gt=0, le=3600, description="seconds one model request may take before it fails")
    max_retries: int = Field(
        2, ge=0, le=10, description="retries of a failed model request (timeout, 429, 5xx) by the provider's client"
    )
    tool_mode: Literal["native", "text", "json_schema", "json_object"] = Field(
        "native",
        description="native: the provider's tool calling (tool_choice auto); text: tools described in the prompt, "
        "calls written as JSON; json_schema: the same, the reply constrained to one call of a listed tool by "
        "response_format json_schema (OpenAI, vLLM, llama-server); json_object: the same by response_format "
        "json_object with a schema (llama-cpp-python's server); a `#MODE` suffix on the model spec overrides it",
    )


class TargetValues(_Section):
    """The targets of one account or campaign under ``targets.accounts`` / ``targets.campaigns``:
    a key left out is the level's above (campaign → account → ``targets``). docs/MAINTENANCE.md."""

    target_roas: Decimal | None = Field(
        None, gt=0, decimal_places=6, description="conversion value per unit of cost the bids aim for"
    )
    target_cpa: Decimal | None = Field(
        None,
        gt=0,
        decimal_places=6,
        description="cost per conversion the bids aim for, in the account's currency units (instead of target_roas)",
    )
    pacing_utilisation: Decimal | None = Field(
        None, gt=0, le=1, description="share of 7 days' budget spent that makes a campaign budget-limited"
    )
    pacing_raise_at: Decimal | None = Field(
        None, gt=0, description="a budget-limited campaign at this share of its target or more is raised"
    )
    pacing_raise_step: Decimal | None = Field(None, gt=0, le=1, description="… by this share of its budget")
    pacing_cut_below: Decimal | None = Field(
        None, ge=0, description="a budget-limited campaign below this share of its target is cut"
    )
    pacing_cut_step: Decimal | None = Field(None, gt=0, lt=1, description="… by this share of its budget")
    pause_below_p_best: Decimal | None = Field(
        None, ge=0, lt=1, description="pause a proven ad whose probability of being its group's best is below this"
    )
    zero_conversion_clicks: int | None = Field(
        None, ge=1, description="a keyword with this many clicks in 14 days and no conversion has its bid cut"
    )
    bid_raise_at: Decimal | None = Field(
        None, gt=0, description="a keyword at this multiple of its target (ROAS or CPA) or better may get a higher bid"
    )
    bid_raise_below_utilisation: Decimal | None = Field(
        None, gt=0, le=1, description="… only in a campaign that spent less than this share of 7 days' budget"
    )
    bid_raise_account_at: Decimal | None = Field(
        None, gt=0, description="… and only while the account is at this multiple of its target or better"
    )

    @field_validator("target_cpa")
    @classmethod
    def _one_target(cls, value: Decimal | None, info: Any) -> Decimal | None:
        if value is not None and info.data.get("target_roas") is not None:
            raise ValueError("set target_roas or target_cpa, not both (to bid by CPA by default: target_roas: null)")
        return value

    @field_validator("pacing_cut_below")
    @classmethod
    def _cut_below_raise(cls, value: Decimal | None, info: Any) -> Decimal | None:
        raise_at = info.data.get("pacing_raise_at")
        if value is not None and raise_at is not None and value >= raise_at:
            raise ValueError(f"pacing_cut_below ({value}) must be below pacing_raise_at ({raise_at})")
        return value


def _keyed(value: Any, what: str, pattern: str) -> Any:
    """A mapping's keys as strings (YAML reads 4445556666 as a number), each one checked."""
    if not isinstance(value, Mapping):
        return value
    keyed = {str(key): item for key, item in value.items()}
    for key in keyed:
        if not re.fullmatch(pattern, key):
            raise ValueError(f"{key!r} is not {what}")
    return keyed


class TargetsConfig(TargetValues):
    """What the maintenance skills aim for (docs/MAINTENANCE.md): these defaults, overridden per
    account (``accounts``: customer id → keys) and per campaign (``campaigns``: campaign id → keys)."""

    target_roas: Decimal | None = Field(
        Decimal("4"), gt=0, decimal_places=6, description="conversion value per unit of cost the bids aim for"
    )
    pacing_utilisation: Decimal | None = Field(Decimal("0.9"), gt=0, le=1)
    pacing_raise_at: Decimal | None = Field(Decimal("0.75"), gt=0)
    pacing_raise_step: Decimal | None = Field(Decimal("0.15"), gt=0, le=1)
    pacing_cut_below: Decimal | None = Field(Decimal("0.25"), ge=0)
    pacing_cut_step: Decimal | None = Field(Decimal("0.15"), gt=0, lt=1)
    pause_below_p_best: Decimal | None = Field(Decimal("0.05"), ge=0, lt=1)
    zero_conversion_clicks: int | None = Field(60, ge=1)
    bid_raise_at: Decimal | None = Field(Decimal("2"), gt=0)
    bid_raise_below_utilisation: Decimal | None = Field(Decimal("0.8"), gt=0, le=1)
    bid_raise_account_at: Decimal | None = Field(Decimal("1.5"), gt=0)
    accounts: dict[str, TargetValues] = Field(default_factory=dict, description="customer id → targets")
    campaigns: dict[str, TargetValues] = Field(
        default_factory=dict, validate_default=True, description="campaign id → targets"
    )

    @field_validator("accounts", mode="before")
    @classmethod
    def _account_ids(cls, value: Any) -> Any:
        return _keyed(value, "a 10-digit customer id", r"[1-9][0-9]{9}")

    @field_validator("campaigns", mode="before")
    @classmethod
    def _campaign_ids(cls, value: Any) -> Any:
        return _keyed(value, "a campaign id (digits)", r"[1-9][0-9]*")

    @field_validator("campaigns")
    @classmethod
    def _complete(cls, value: dict[str, TargetValues], info: Any) -> dict[str, TargetValues]:
        """The top level is every account's default: it sets each key (checked last, once all are read)."""
        data = info.data
        if all(key in data and data[key] is None for key in ("target_roas", "target_cpa")):
            raise ValueError("targets needs target_roas or target_cpa (the default of every account)")
        for key in TargetValues.model_fields:
            if key not in ("target_roas", "target_cpa") and key in data and data[key] is None:
                raise ValueError(f"targets.{key} needs a value (the default of every account)")
        return value

    def resolve(self, account: str, campaign: str | None = None) -> TargetValues:
        """Every key of one account (or one of its campaigns): the campaign's, else the account's,
        else the defaults. A level that sets target_roas or target_cpa chooses how it bids."""
        merged: dict[str, Any] = {k: getattr(self, k) for k in TargetValues.model_fields}
        levels = [self.accounts.get(account), self.campaigns.get(campaign) if campaign else None]
        for level in levels:
            if level is None:
                continue
            given = {k: v for k in level.model_fields_set if (v := getattr(level, k)) is not None}
            if "target_roas" in given or "target_cpa" in given:
                merged["target_roas"] = merged["target_cpa"] = None
            merged.update(given)
        return TargetValues.model_construct(**merged)


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
    models: ModelsConfig = ModelsConfig()
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
    feed: FeedConfig = FeedConfig()
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    runs: RunsConfig = RunsConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    console: ConsoleConfig = ConsoleConfig()
    targets: TargetsConfig = TargetsConfig()
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
    """Which config file applies: the flag, else $ADPILOT_CONFIG, else ./config.yaml if present
    (a ``config.yaml`` that is a directory or unreadable is an error, never silently skipped)."""
    if explicit:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    default = Path("config.yaml")
    return default if default.exists() else None


def _relative_to(base: Path, config: Config, origins: Mapping[str, str]) -> Config:
    """Every path written in the config file is relative to the file's directory, not to wherever
    the command runs: ``state_dir``, a ``policy`` path, ``scripted:FILE`` and each section's path
    settings. Values from environment overrides stay as given (relative to the working directory)."""
    update: dict[str, Any] = {}
    if not config.state_dir.is_absolute() and "state_dir" not in origins:
        update["state_dir"] = base / config.state_dir
    policy = Path(config.policy)
    if "policy" not in origins and not policy.is_absolute() and (len(policy.parts) > 1 or policy.suffix):
        update["policy"] = str(base / policy)
    kind, _, target = config.model.partition(":")
    if kind == "scripted" and target and "model" not in origins and not Path(target).is_absolute():
        update["model"] = f"scripted:{base / target}"
    for name in type(config).model_fields:
        section = getattr(config, name)
        if not isinstance(section, _Section):
            continue
        paths = {
            key: base / value
            for key in type(section).model_fields
            if isinstance(value := getattr(section, key), Path)
            and not value.is_absolute()
            and f"{name}.{key}" not in origins
        }
        if paths:
            update[name] = section.model_copy(update=paths)
    return config.model_copy(update=update) if update else config


def _check_state_dir(config: Config) -> None:
    """One clear error for a state directory that cannot be one, before any command touches it."""
    for candidate in (config.state_dir, *config.state_dir.parents):
        if candidate.exists():
            if not candidate.is_dir():
                which = "is" if candidate == config.state_dir else f"lies under {candidate}, which is"
                raise ConfigError(
                    f"state_dir {config.state_dir} {which} a file, not a directory: point state_dir "
                    "at a directory (adpilot creates it) or move the file away"
                )
            return


_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@", re.IGNORECASE)
_URL_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:token|key|apikey|api_key|access_token|password|secret|sig|signature)=)[^&#\s]*", re.IGNORECASE
)
MASK = "***"


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str):
        if value and looks_secret(key):
            return MASK
        value = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@" if m["user"] else m[0], value)
        return _URL_SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", value)
    return value


def shown_config(config: Config) -> dict[str, Any]:
    """The configuration as ``config show`` prints it: credentials inside URLs (``user:password@``,
    ``?token=``) and any value under a secret-looking key are masked."""
    masked: dict[str, Any] = _masked(config.model_dump(mode="json"))
    return masked


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
    if file is not None:
        config = _relative_to(file.parent, config, origins)
    _check_state_dir(config)
    return config


def dump_defaults() -> str:
    """The embedded defaults as YAML (what ``config.yaml`` ships)."""
    data = Config().model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


__all__ = [
    "AuditConfig",
    "Config",
    "ConsoleConfig",
    "FeedConfig",
    "GoogleAdsConfig",
    "LogConfig",
    "MemoryConfig",
    "ModelPrice",
    "RunsConfig",
    "SandboxConfig",
    "ScheduleEntry",
    "TargetValues",
    "TargetsConfig",
    "TelemetryConfig",
    "WordPressConfig",
    "dump_defaults",
    "load_config",
    "parse_yaml",
    "shown_config",
]
