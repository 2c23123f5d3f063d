"""`adpilot users add|remove|list` and `adpilot serve`, in process."""

from __future__ import annotations

import io
import json
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.app.web.html import Markup, esc, tag
from adpilot.app.web.users import UserStore
from adpilot.config import load_config
from adpilot.errors import ConfigError, ExitCode
from tests.app.conftest import run


def users_add(monkeypatch, capsys, config_file, name: str, role: str, password: str):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run(capsys, config_file, "users", "add", name, "--role", role, "--password-stdin")


def test_users_are_added_listed_and_removed(monkeypatch, capsys, config_file):
    code, out = users_add(monkeypatch, capsys, config_file, "lena", "approver", "correct horse battery")
    assert code == 0 and "added lena (approver)" in out.out
    code, out = run(capsys, config_file, "users", "list", "--json")
    assert code == 0 and [(u["name"], u["role"]) for u in json.loads(out.out)] == [("lena", "approver")]
    store = UserStore(config_file.parent / "state" / "console.sqlite")
    assert store.authenticate("lena", "correct horse battery", "127.0.0.1") is not None
    store.close()
    code, out = run(capsys, config_file, "users", "remove", "lena")
    assert code == 0 and "removed lena" in out.out
    code, out = run(capsys, config_file, "users", "list")
    assert code == 0 and "no users yet" in out.out


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("lena", "boss", "correct horse battery", "role 'boss': one of viewer, operator, approver, admin"),
        ("lena", "viewer", "short", "at least 10 characters"),
        ("a b", "viewer", "correct horse battery", "user name 'a b'"),
    ],
)
def test_a_bad_user_is_one_clear_line_and_exit_2(monkeypatch, capsys, config_file, name, role, password, message):
    code, out = users_add(monkeypatch, capsys, config_file, name, role, password)
    assert code == ExitCode.USAGE and message in out.err and "Traceback" not in out.err


def test_without_a_terminal_the_password_must_come_from_stdin(monkeypatch, capsys, config_file):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out = run(capsys, config_file, "users", "add", "lena", "--role", "viewer")
    assert code == ExitCode.USAGE and "--password-stdin" in out.err


def test_serve_on_a_busy_port_is_one_clear_line_and_exit_2(capsys, config_file):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        code, out = run(capsys, config_file, "serve", "--port", port)
    assert code == ExitCode.USAGE and f"cannot serve the console on 127.0.0.1:{port}" in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_serve_beyond_loopback_without_tls_warns(monkeypatch, capsys, config_file):
    served = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: served.update(kwargs))
    monkeypatch.setattr("adpilot.app.web.app.check_port", lambda host, port, what: None)
    code, out = run(capsys, config_file, "serve", "--host", "0.0.0.0", "--port", "8099")
    assert code == 0 and "WARNING" in out.err and "without TLS" in out.err
    assert served["host"] == "0.0.0.0" and served["port"] == 8099 and served["ssl_certfile"] is None
    code, out = run(capsys, config_file, "serve")  # the config's host and port: loopback, no warning
    assert code == 0 and "WARNING" not in out.err and served["host"] == "127.0.0.1" and served["port"] == 8080


def test_the_console_section_is_validated():
    with pytest.raises(ConfigError, match=r"console\.port"):
        load_config(None, environ={"ADPILOT__CONSOLE__PORT": "70000"})
    assert load_config(None, environ={"ADPILOT__CONSOLE__PORT": "9000"}).console.port == 9000


@given(st.text())
def test_text_never_becomes_markup(text):
    built = tag("p", text, title=text)
    assert built.count("<") == 2 and built.count(">") == 2  # only the element's own tags
    assert esc(text) == esc(esc(text))  # escaping once is enough: Markup is not escaped again
    assert isinstance(built, Markup)
