"""llama-cpp-python's OpenAI-compatible server with ggml's extra buffer types off.

llama-cpp-python 0.3.36 has no setting for llama.cpp's ``use_extra_bufts`` (weight repacking into
extra buffer types, e.g. AMX): ``Llama`` builds its model parameters from
``llama_model_default_params()``, where it is on. Some CPUs advertise AMX and fault on the first
AMX instruction, so this launcher turns it off in those defaults and then runs the server's own
``main`` with the same command-line options (``--model``, ``--n_ctx``, ``--chat_format``, …).

Run by ``scripts/local-model.sh serve`` inside the model's virtualenv (not adpilot's).
"""

from __future__ import annotations

from typing import Any


def _without_extra_buffer_types() -> None:
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def params() -> Any:
        value = defaults()
        value.use_extra_bufts = False
        return value

    native.llama_model_default_params = params


def main() -> None:
    _without_extra_buffer_types()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
