"""scripts/local-model.sh without a model: its spec, its usage, and refusing to serve what is not built."""

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-model.sh"


def run(*args: str, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(cache), "ADPILOT_MODEL_CACHE": str(cache / "c"), **env}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=environ, timeout=60)


def test_the_spec_names_the_served_model_and_port(tmp_path):
    assert run("spec", cache=tmp_path).stdout == "openai-compatible:qwen@http://127.0.0.1:8765/v1#json_object\n"
    assert run("spec", cache=tmp_path, ADPILOT_MODEL_PORT="9123").stdout.endswith(
        "@http://127.0.0.1:9123/v1#json_object\n"
    )


def test_an_unknown_action_prints_the_usage_and_fails(tmp_path):
    result = run("bogus", cache=tmp_path)
    assert result.returncode == 1 and "usage:" in result.stderr and "build|serve|stop" in result.stderr


def test_serve_before_build_names_the_fix_and_starts_nothing(tmp_path):
    result = run("serve", cache=tmp_path)
    assert result.returncode == 1 and "run '" in result.stderr and "build' first" in result.stderr
    assert not (tmp_path / "c" / "server.pid").exists()
