"""`adpilot serve` and `adpilot users add|remove|list`: the command line of the web console."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from adpilot.app.web.users import ROLES, check_name, check_role, open_users
from adpilot.config import Config
from adpilot.errors import ExitCode, UsageError


def serve(config: Config, args: argparse.Namespace) -> int:
    from adpilot.app.web.app import serve as run

    host = args.host or config.console.host
    port = config.console.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: a TCP port, 1-65535")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    run(config, host, port, certfile=args.tls_cert, keyfile=args.tls_key, say=lambda m: print(m, file=sys.stderr))
    return ExitCode.OK


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def users(config: Config, args: argparse.Namespace) -> int:
    action = args.users_command
    if action == "add":
        check_name(args.name)
        check_role(args.role)
        password = _password(args)
    store = open_users(config.state_dir)
    try:
        if action == "add":
            user = store.add(args.name, args.role, password)
            print(f"added {user.name} ({user.role}); they sign in at `adpilot serve`")
        elif action == "remove":
            store.remove(args.name)
            print(f"removed {args.name}; their sessions ended")
        elif args.json:
            json.dump([u.__dict__ for u in store.list()], sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            listed = store.list()
            if not listed:
                print(f"no users yet: adpilot users add NAME --role {'|'.join(ROLES)}")
            for user in listed:
                print(f"{user.name:24} {user.role:9} since {user.created[:16].replace('T', ' ')} UTC")
    finally:
        store.close()
    return ExitCode.OK
