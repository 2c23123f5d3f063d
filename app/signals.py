"""Graceful stop: the first SIGTERM or SIGINT lets the step in flight finish, the second aborts.

A step is the unit a run checkpoints, so stopping between steps loses nothing: the run is left
"running" in the registry with its leases released, and the next ``adpilot maintain`` (or the
console's next start) continues it. A second signal restores the default handler and re-raises
the signal, so the process ends at once; the next start reconciles whatever was in flight from
the audit log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def graceful(shutdown: asyncio.Event, *, say: bool = True) -> Iterator[None]:
    """Within the block (inside a running event loop), signals set ``shutdown`` once, then abort."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if shutdown.is_set():
            for each in SIGNALS:
                loop.remove_signal_handler(each)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            return
        shutdown.set()
        if say:
            print(
                f"adpilot: {sig.name} — finishing the step in flight, then stopping (send it again to abort at once)",
                file=sys.stderr,
                flush=True,
            )

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
