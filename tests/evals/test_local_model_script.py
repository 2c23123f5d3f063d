"""scripts/local-model.sh without a model: its spec, its usage, and refusing to serve what is not built."""

import socket
import subprocess
import sys
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


SLOW_SERVER = """
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(4)  # busy with another eval's request: slower than the 2 s first check
        body = b'{"object": "list", "data": []}'
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
"""


def _until_listening(port: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the test server did not start"


def test_a_busy_server_it_started_is_shared_not_refused(tmp_path):
    """A second eval while the server computes another's request: `serve` waits for the busy server
    to answer and reuses it, instead of failing with "running but does not answer"."""
    cache = tmp_path / "c"
    (cache / "model").mkdir(parents=True)
    (cache / "model" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF")
    (cache / "venv" / "bin").mkdir(parents=True)
    (cache / "venv" / "bin" / "python").symlink_to(sys.executable)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SLOW_SERVER, str(port)])
    try:
        _until_listening(port)
        (cache / "server.pid").write_text(str(server.pid))
        result = run("serve", cache=tmp_path, ADPILOT_MODEL_PORT=str(port))
        assert result.returncode == 0, result.stderr
        assert f"server already running (pid {server.pid})" in result.stderr
        assert server.poll() is None  # not stopped, not replaced
    finally:
        server.kill()
        server.wait()
