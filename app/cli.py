"""The ``adpilot`` command line.

Start-up stays fast: this module imports only the standard library; each command imports
what it needs when it runs. Exit codes: 0 done, 1 internal error, 2 usage or configuration
error, 3 run stopped, 4 evaluation below threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_STOPPED, EXIT_EVAL = 0, 1, 2, 3, 4


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _load_config(args: argparse.Namespace) -> Any:
    from adpilot.config import load_config
    from adpilot.logs import configure_logging

    config = load_config(args.config)
    configure_logging(config.log.level, config.log.format)
    return config


def cmd_demo(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.summary import render_summary, world_summary
    from adpilot.tools.sandbox import World

    summary = world_summary(World.demo(config.sandbox.seed))
    if args.json:
        _print_json(summary)
    else:
        print(render_summary(summary))
    return EXIT_OK


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.tools.sandbox.server import serve

    seed = config.sandbox.seed if args.seed is None else args.seed
    print(f"sandbox on http://{args.host}:{args.port} (seed {seed}); Ctrl-C stops it", file=sys.stderr)
    serve(args.host, args.port, seed)
    return EXIT_OK


def cmd_sandbox_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.summary import render_summary, world_summary
    from adpilot.tools.sandbox import World

    world = World.demo(config.sandbox.seed if args.seed is None else args.seed)
    if args.json:
        _print_json(world.dump() if args.full else world_summary(world))
    else:
        print(render_summary(world_summary(world)))
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    data = config.model_dump(mode="json")
    if args.json:
        _print_json(data)
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adpilot",
        description="Role-scoped AI agents for online marketing, governed by policy.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $ADPILOT_CONFIG or ./config.yaml)",
    )
    parser.add_argument("--version", action="version", version="adpilot 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    demo = add("demo", cmd_demo, "seed the sandbox world and show it")
    demo.add_argument("--json", action="store_true", help="one JSON document on stdout")

    sandbox = sub.add_parser("sandbox", help="the local stand-in for Google Ads and WordPress")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = add("serve", cmd_sandbox_serve, "serve the sandbox APIs over HTTP", sandbox_sub)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=None, help="world seed (default: sandbox.seed of the config)")
    show = add("show", cmd_sandbox_show, "print the seeded world", sandbox_sub)
    show.add_argument("--seed", type=int, default=None)
    show.add_argument("--json", action="store_true")
    show.add_argument("--full", action="store_true", help="with --json: the whole world dump")

    config = sub.add_parser("config", help="inspect the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_show = add("show", cmd_config_show, "print the effective configuration", config_sub)
    config_show.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    from adpilot.errors import AdpilotError

    try:
        return int(handler(args))
    except AdpilotError as exc:
        print(f"adpilot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("adpilot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; that is not our failure.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
