"""Privacy by design in the audit log (issue 17, item 4): personal data in a call's arguments,
values, results and reasons is stored as keyed tokens, never as written; the same person gets the
same token; rollback still restores the exact text from the (encrypted) vault; erasing a person
keeps the chain intact; and every row about a person is found for a data-subject request."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.app.cli import EXIT_OK, EXIT_USAGE, main
from adpilot.errors import UsageError
from adpilot.pii import TOKEN, find_pii, pseudonymise, subject_token
from adpilot.policies import load_policy
from adpilot.tools.audit import AuditLog, Seal
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.rollback import rollback_run
from tests.conftest import DE

KEY = "k" * 40  # a test key; never a real one
EMAIL = "Max.Mustermann@Example.com"
PHONE = "+49 176 1234 5678"
IBAN = "DE89 3704 0044 0532 0130 00"
RAW = [
    EMAIL,
    EMAIL.lower(),
    "Mustermann@Example",
    PHONE,
    "1234 5678",
    "4917612345678",
    IBAN,
    "DE89370400440532013000",
    "0532 0130",
]
CONTACT = f"<p>Fragen? Schreiben Sie an {EMAIL} oder rufen Sie {PHONE} an. Spenden: {IBAN}.</p>"


def _seal(folder: Path, key: str = KEY) -> Seal:
    return Seal(key.encode(), "test", folder / "anchor" / "audit.anchor")


def _guard(platforms, log: AuditLog, run: str = "r1") -> Guard:
    return Guard(platforms, load_policy(), log, RunScope(run, run, frozenset({DE})))


def _file_bytes(path: Path) -> bytes:
    """The database as it lies on disk: the file, its write-ahead log and shared memory."""
    return b"".join(
        Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm") if Path(f"{path}{suffix}").exists()
    )


def _raw_hits(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace").lower()
    return [raw for raw in RAW if raw.lower() in text or raw.lower().replace(" ", "") in text]


@pytest.fixture
def sealed(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite3", seal=_seal(tmp_path))
    yield log
    log.close()


async def test_no_personal_data_reaches_the_database_file(platforms, sealed, sandbox, tmp_path):
    guard = _guard(platforms, sealed)
    result = await guard.call("seo", "update_post", {"post_id": 503, "content": CONTACT})
    assert result.ok, result.error
    assert sandbox.world.cms.posts["503"].content == CONTACT  # the platform got the real text
    # An escalation's reason and a denied call's arguments are scrubbed the same way.
    await guard.call("bidding", "escalate", {"reason": f"Kunde {EMAIL} fragt nach, Tel. {PHONE}"})
    await guard.call("seo", "update_post", {"post_id": "not-an-id", "content": CONTACT})

    for data in (_file_bytes(Path(sealed.path)),):
        assert _raw_hits(data) == [], "raw personal data in the audit database (or its WAL)"
    rows = sealed.records()
    stored = json.dumps([r.to_dict() for r in rows], ensure_ascii=False)
    assert _raw_hits(stored.encode()) == []
    assert not list(find_pii(stored))
    assert len(set(TOKEN.findall(stored))) >= 3  # e-mail, phone and IBAN, each a token
    sealed.close()
    assert _raw_hits(_file_bytes(Path(sealed.path))) == []  # after the WAL was checkpointed into the file
    assert AuditLog(sealed.path, seal=_seal(tmp_path)).verify() == len(rows)


async def test_an_unsealed_log_holds_no_personal_data_either(platforms, tmp_path):
    log = AuditLog(tmp_path / "plain.sqlite3")
    result = await _guard(platforms, log).call("seo", "update_post", {"post_id": 503, "content": CONTACT})
    assert result.ok
    assert _raw_hits(_file_bytes(tmp_path / "plain.sqlite3")) == []
    [change] = [r for r in log.records(kind="result") if r.status == "ok"]
    assert log.reveal(change.after)["content"] == CONTACT


async def test_one_person_correlates_across_rows_and_spellings(platforms, sealed):
    guard = _guard(platforms, sealed)
    await guard.call("seo", "update_post", {"post_id": 503, "content": f"Kontakt: {EMAIL}"})
    await guard.call("seo", "update_post", {"post_id": 503, "content": f"Kontakt: {EMAIL.lower()} (neu)"})
    await guard.call("seo", "update_post", {"post_id": 503, "content": "Kontakt: jemand.anders@example.com"})
    subject = subject_token(EMAIL, sealed.seal.pii_key)
    after = [r.after["content"] for r in sealed.records(kind="result") if r.status == "ok"]
    assert subject in after[0] and subject in after[1] and subject not in after[2]
    # Two spellings, one person: the same subject, but each spelling its own exact original.
    first, second = (TOKEN.search(text).group() for text in after[:2])
    assert first != second and first.startswith(subject) and second.startswith(subject)
    assert (
        sealed.reveal(after[0]) == f"Kontakt: {EMAIL}" and sealed.reveal(after[1]) == f"Kontakt: {EMAIL.lower()} (neu)"
    )
    # A data-subject request finds every row about the person, whatever spelling they give.
    about = sealed.records_about("max.mustermann (at) example (dot) com")
    await guard.call("seo", "update_post", {"post_id": 503, "content": "Kontakt: niemand"})
    changes = [r.seq for r in sealed.records(kind="result") if r.status == "ok"]
    found = [r.seq for r in sealed.records_about("max.mustermann (at) example (dot) com") if r.kind == "result"]
    assert found == changes[:3]  # the third change's before value still names them; the fourth does not
    assert all(subject in json.dumps(r.to_dict()) for r in about)
    assert {r.seq for r in sealed.records_about(EMAIL)} == {r.seq for r in about}
    with pytest.raises(UsageError, match="not one e-mail address"):
        sealed.records_about("Max Mustermann")


async def test_rollback_restores_the_exact_text_with_the_personal_data(platforms, sealed, sandbox):
    await _guard(platforms, sealed, "r0").call("seo", "update_post", {"post_id": 503, "content": CONTACT})
    changed = await _guard(platforms, sealed, "r1").call(
        "seo", "update_post", {"post_id": 503, "content": "<p>Kontakt: info@alpine-outfitters.de</p>"}
    )
    assert changed.ok
    [row] = [r for r in sealed.records(run_id="r1", kind="result") if r.status == "ok"]
    assert EMAIL not in json.dumps(row.before) and TOKEN.search(row.before["content"])

    [step] = await rollback_run(_guard(platforms, sealed, "rollback-1"), "r1")

    assert step.outcome == "undone", step.detail
    assert sandbox.world.cms.posts["503"].content == CONTACT  # byte for byte, the e-mail, phone and IBAN included
    assert _raw_hits(_file_bytes(Path(sealed.path))) == []  # the undo's own rows are scrubbed too


async def test_forgetting_a_person_keeps_the_chain_and_stops_an_inexact_rollback(platforms, sealed, sandbox, tmp_path):
    await _guard(platforms, sealed, "r0").call("seo", "update_post", {"post_id": 503, "content": CONTACT})
    await _guard(platforms, sealed, "r1").call("seo", "update_post", {"post_id": 503, "content": "<p>Neu.</p>"})
    rows = len(sealed.records())

    assert sealed.forget(EMAIL.upper()) >= 1
    assert sealed.forget(EMAIL) == 0  # nothing left of them

    # The chain covers tokens only: it verifies, with each erasure a row of its own.
    assert AuditLog(sealed.path, seal=_seal(tmp_path)).verify() == rows + 2
    erasures = sealed.records(tool="audit_forget")
    assert [r.rule for r in erasures] == ["privacy.erasure"] * 2 and EMAIL.lower() not in str(erasures).lower()
    assert sealed.records_about(EMAIL)  # the rows still say a person was concerned, not who
    [step] = await rollback_run(_guard(platforms, sealed, "rollback-1"), "r1")
    assert step.outcome == "not_reversible" and "erased" in step.detail
    assert sandbox.world.cms.posts["503"].content == "<p>Neu.</p>"  # never a token put into a post
    # The other people in the same text are still revealed.
    [row] = [r for r in sealed.records(run_id="r1", kind="result") if r.status == "ok"]
    missing: list[str] = []
    revealed = sealed.reveal(row.before["content"], missing)
    assert PHONE in revealed and IBAN in revealed and EMAIL not in revealed and len(missing) == 1


async def test_a_replayed_call_answers_with_the_real_result(platforms, sealed):
    guard = _guard(platforms, sealed)
    args = {"title": "Neu", "content": f"Kontakt {EMAIL}"}
    first = await guard.call("seo", "create_draft", args, proposal_id="p1")
    again = await guard.call("seo", "create_draft", args, proposal_id="p1")
    assert again.replayed and again.data == first.data


def test_the_cli_lists_what_the_log_holds_about_a_person(capsys, config_file, monkeypatch):
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", KEY)
    args = json.dumps({"post_id": 503, "content": CONTACT})
    assert main(["--config", str(config_file), "tool", "call", "seo", "update_post", args, "--json"]) == EXIT_OK
    capsys.readouterr()
    assert main(["--config", str(config_file), "audit", "subject", PHONE.replace(" ", "-"), "--json"]) == EXIT_OK
    found = json.loads(capsys.readouterr().out)
    assert found["rows"] and all(PHONE in json.dumps(r, ensure_ascii=False) for r in found["rows"])
    assert EMAIL not in json.dumps(found, ensure_ascii=False)  # only the asking person's data is revealed
    # `audit export --subject`: the same rows for auditors, with only that person's data revealed.
    assert main(["--config", str(config_file), "audit", "export", "--subject", EMAIL.upper()]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(EMAIL in line and PHONE not in line for line in lines)
    assert main(["--config", str(config_file), "audit", "forget", PHONE, "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["erased"] >= 1
    assert main(["--config", str(config_file), "audit", "verify"]) == EXIT_OK
    assert main(["--config", str(config_file), "audit", "subject", "niemand"]) == EXIT_USAGE


# --- the tokens -----------------------------------------------------------------------------------

KEY_A, KEY_B = b"a" * 32, b"b" * 32
_locals = st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)
_emails = st.builds(lambda user, host: f"{user}@{host}.de", _locals, st.from_regex(r"[a-z]{2,12}", fullmatch=True))
_phones = st.builds(
    lambda area, number, sep: f"+49 {area}{sep}{number}",
    st.integers(30, 999),
    st.integers(100_000, 99_999_999),
    st.sampled_from([" ", "-", "/"]),
)
_pii = st.one_of(_emails, _phones, st.just(IBAN), st.just("DE02120300000000202051"))
_words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30)
_texts = st.lists(st.one_of(_words, _pii), max_size=6).map(" ".join)
_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(_texts)
def test_no_personal_data_is_left_and_the_originals_restore_the_text(text):
    out, originals = pseudonymise(text, KEY_A)
    assert not list(find_pii(out))
    assert TOKEN.sub(lambda m: originals[m.group()], out) == text


@_FAST
@given(_texts)
def test_pseudonymising_twice_changes_nothing(text):
    once, _ = pseudonymise(text, KEY_A)
    assert pseudonymise(once, KEY_A) == (once, {})


def _obfuscated(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local} (at) {domain.replace('.', ' (dot) ')}"  # (find_pii reads marked dots after the "at" only)


@_FAST
@given(_emails, st.sampled_from([str.upper, str.title, _obfuscated]))
def test_one_person_one_subject_whatever_the_spelling(email, spell):
    [token] = pseudonymise(f"Mail: {email}", KEY_A)[1]
    [again] = pseudonymise(f"Mail an {email} bitte", KEY_A)[1]
    assert token == again  # the same text, the same token
    variant = spell(email)
    assert subject_token(variant, KEY_A) == subject_token(email, KEY_A) and token.startswith(
        subject_token(email, KEY_A)
    )


@_FAST
@given(_pii)
def test_another_key_gives_other_tokens(value):
    assert pseudonymise(value, KEY_A)[0] != pseudonymise(value, KEY_B)[0]
    assert subject_token(value, KEY_A) != subject_token(value, KEY_B)


def test_a_token_holds_nothing_a_detector_or_a_reader_could_take_for_data():
    out, _ = pseudonymise(f"{EMAIL} {PHONE} {IBAN}", KEY_A)
    assert re.fullmatch(
        r"\[email:[b-t]{16}-[b-t]{12}\] \[phone:[b-t]{16}-[b-t]{12}\] \[iban:[b-t]{16}-[b-t]{12}\]", out
    )
    assert not re.search(r"[0-9aeiou]", "".join(TOKEN.findall(out)[0][1:]))


def test_rows_without_personal_data_are_stored_as_they_were(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3")
    args = {"customer_id": "1112223333", "budget_id": "9001", "amount_micros": 55_000_000, "note": "Preis 49,90 €"}
    record = log.append(
        "decision",
        run_id="r",
        thread_id="t",
        actor="a",
        role="r",
        tool="x",
        args=args,
        call_hash="h",
        policy_hash="p",
        before=50_000_000,
        after=55_000_000,
        reason="ok 2026-12-03",
    )
    assert (record.args, record.before, record.after, record.reason) == (args, 50_000_000, 55_000_000, "ok 2026-12-03")
    db = sqlite3.connect(tmp_path / "a.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM audit_vault").fetchone() == (0,)
