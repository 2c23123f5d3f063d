"""A model provider that fails stops the run with the reason ``model``, in one line, exit code 2:
unreachable, timed out, an HTTP error, refused credentials. The run is stopped, never left running."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from adpilot.agents.llm import ModelProvider, ModelProviderError, build_provider, provider_failure
from adpilot.agents.run import Runner
from adpilot.app.cli import main
from adpilot.config import ModelsConfig
from adpilot.errors import ExitCode
from tests.agents.test_chat import budget

SPEC = "openai-compatible:x@http://127.0.0.1:9/v1"


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as raised ``from cause`` (its traceback chain set, as a client library leaves it)."""
    try:
        try:
            if cause is not None:
                raise cause
        finally:
            raise exc from cause
    except BaseException as caught:
        return caught


class StatusError(Exception):
    """What the provider clients raise for an HTTP error: an exception with ``status_code``."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"Error code: {status_code}")
        self.status_code = status_code


REFUSED = _raised(httpx.ConnectError("All connection attempts failed"), ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (REFUSED, "openai-compatible at http://127.0.0.1:9/v1 is unreachable (connection refused)"),
        (_raised(httpx.ConnectError("dns"), socket.gaierror(-2, "Name")), "its host name does not resolve"),
        (httpx.ReadTimeout("timed out"), "did not answer within 7 s (models.timeout_s)"),
        (StatusError(401), "refused the credentials (HTTP 401)"),
        (StatusError(404), "does not know the model or the endpoint (HTTP 404)"),
        (StatusError(429), "rate-limiting"),
        (StatusError(503), "failed with HTTP 503"),
    ],
)
def test_provider_failures_in_one_line(exc, why):
    failure = provider_failure(SPEC, exc, timeout_s=7)
    assert isinstance(failure, ModelProviderError) and failure.exit_code == ExitCode.USAGE
    message = str(failure)
    assert message.startswith("the model provider failed: openai-compatible at http://127.0.0.1:9/v1 ")
    assert why in message and "\n" not in message


def test_a_refused_key_names_the_variable_to_check():
    failure = provider_failure("openai:gpt-4o", StatusError(401))
    assert (
        str(failure)
        == "the model provider failed: openai (gpt-4o) refused the credentials (HTTP 401): check OPENAI_API_KEY"
    )


def test_an_error_of_adpilot_itself_is_no_provider_failure():
    assert provider_failure(SPEC, KeyError("tool_calls")) is None


class Failing(BaseChatModel):
    """A chat model whose provider fails with ``error`` on every call."""

    error: Any
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "failing"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("error", [REFUSED, httpx.ReadTimeout("timed out"), StatusError(500)])
async def test_a_failing_provider_stops_the_run_with_the_reason_model(config, platforms, audit, sandbox, error):
    model = Failing(error=error)
    async with Runner(config, platforms=platforms, audit=audit, models=ModelProvider(SPEC, model=model)) as runner:
        result = await runner.start({"kind": "chat", "text": "the boots budget should be a little higher"})
        record = runner.registry.get(result.thread_id)
    assert model.calls == 1  # asked once (the client's own retries are its business), then stopped
    assert result.status == "stopped" and result.report["stop_reason"] == "model"
    assert record is not None and record.status == "stopped"  # never left running
    assert result.answer is not None and result.answer.startswith("the model provider failed: openai-compatible")
    assert result.answer in result.report["notes"]
    assert budget(sandbox) == "50000000"


async def test_a_role_agent_whose_provider_fails_stops_the_run_too(config, platforms, audit, sandbox):
    class FailsSecond(Failing):
        def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
            from langchain_core.messages import AIMessage
            from langchain_core.outputs import ChatGeneration, ChatResult

            self.calls += 1
            if self.calls == 1:
                reply = AIMessage(content='{"name": "transfer_to_bidding", "arguments": {"task": "raise 9001"}}')
                return ChatResult(generations=[ChatGeneration(message=reply)])
            raise self.error

    model = FailsSecond(error=StatusError(502))
    async with Runner(config, platforms=platforms, audit=audit, models=ModelProvider(SPEC, model=model)) as runner:
        result = await runner.start({"kind": "chat", "text": "the boots budget should be a little higher"})
    assert result.status == "stopped" and result.report["stop_reason"] == "model"
    assert "failed with HTTP 502" in (result.answer or "")


def test_timeouts_and_retries_reach_the_client():
    pytest.importorskip("langchain_openai")
    provider = build_provider(SPEC, options=ModelsConfig(timeout_s=12.5, max_retries=0))
    model = provider.for_agent("bidding")
    assert model is not None
    assert model.request_timeout == 12.5 and model.max_retries == 0  # type: ignore[attr-defined]


def test_chat_once_with_an_unreachable_endpoint_prints_one_line_and_exits_2(capsys, config_file):
    pytest.importorskip("langchain_openai")
    config_file.write_text(config_file.read_text() + "models: {timeout_s: 10, max_retries: 0}\n")
    assert main(["--config", str(config_file), "chat", "--no-memory", "--once", "hilfe"]) == 0  # a state dir
    capsys.readouterr()
    argv = ["--config", str(config_file), "chat", "--no-memory", "--model", SPEC, "--once", "hi"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE and out == ""
    assert err.splitlines() == [
        "adpilot: the model provider failed: openai-compatible at http://127.0.0.1:9/v1 is unreachable "
        "(connection refused)"
    ]


@pytest.mark.parametrize(
    ("command", "spec", "fragment"),
    [
        (["chat", "--once", "hi"], "gpt-9", "is not a model spec"),
        (["maintain"], "openai:gpt-4o", "needs the environment variable OPENAI_API_KEY"),
        (["schedule"], "scripted#grammar", "#grammar is not a tool mode"),
        (["serve"], "openai-compatible:m", "expected openai-compatible:MODEL@URL"),
    ],
)
def test_a_model_spec_that_cannot_work_is_one_line_and_exit_2(
    capsys, config_file, monkeypatch, command, spec, fragment
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = main(["--config", str(config_file), *command, "--model", spec])
    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE and out == "" and len(err.splitlines()) == 1 and fragment in err


def test_maintenance_stopped_by_its_model_exits_2():
    from adpilot.agents.run import RunResult
    from adpilot.app.runs import exit_code

    stopped = RunResult("t", "t", "stopped", {"stop_reason": "model"}, None)
    other = RunResult("u", "u", "stopped", {"stop_reason": "max_steps"}, None)
    assert exit_code([other, stopped]) == ExitCode.USAGE and exit_code([other]) == ExitCode.STOPPED
