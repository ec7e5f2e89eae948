"""``gpumigrate serve NAME``: the app in a browser (textual-serve), on 127.0.0.1 only.

Each browser tab runs its own ``gpumigrate attach NAME``: an attached client
like any terminal, watching or driving by the same lease rules.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the app on a session to a browser on 127.0.0.1")
    p.add_argument("name", help="the session's name")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--watch", action="store_true", help="browser tabs only watch")
    p.set_defaults(handler=run)


def command_for(name: str, watch: bool = False) -> str:
    """The command each browser tab runs (quoted for a shell)."""
    import shlex
    import sys

    parts = [sys.executable, "-m", "tui.cli", "attach", name] + (["--watch"] if watch else [])
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    from engine.errors import BadInputError
    from engine.session import SessionStore

    if not 1 <= args.port <= 65535:
        raise BadInputError(f"--port {args.port}: must be 1..65535")
    SessionStore.open(args.name, create=False).close()
    from textual_serve.server import Server

    print(f"serving session {args.name} on http://127.0.0.1:{args.port} (loopback only; use an SSH tunnel "
          f"`ssh -L {args.port}:127.0.0.1:{args.port} HOST` to reach it); ctrl+c stops", flush=True)
    Server(command_for(args.name, args.watch), host="127.0.0.1", port=args.port,
           title=f"gpumigrate {args.name}").serve()
    return 0
