"""``gpumigrate serve NAME``: the app in a browser (textual-serve), on 127.0.0.1 only, behind a secret.

Each browser tab runs its own ``gpumigrate attach NAME`` (``--watch`` with
``serve --watch``): an attached client like any terminal, watching or driving by
the same lease rules.  Every request needs the cookie that the one-time link
printed here sets (see :mod:`tui.serve_guard`); the link is also kept, 0600, in
the state directory for the owner.
"""

from __future__ import annotations

import argparse

from tui.argtypes import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the app on a session to a browser on 127.0.0.1")
    p.add_argument("name", help="the session's name")
    p.add_argument("--port", type=bounded(1, 65_535, integer=True), default=8000, help="port on 127.0.0.1 (default 8000)")
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
    from engine.session import state_dir
    from engine.session.paths import owner_only_file
    from tui.serve_guard import Guard, guarded_server

    guard = Guard("127.0.0.1", args.port)
    link_file = owner_only_file(state_dir() / "serve" / f"{args.name}.url", guard.url + "\n")  # 0600 even if shared
    print(f"serving session {args.name} on 127.0.0.1:{args.port}{' (watch only)' if args.watch else ''}.\n"
          f"Open this link once, in your own browser (it sets a cookie and is then spent; also in {link_file}):\n"
          f"  {guard.url}\n"
          f"Through an SSH tunnel: `ssh -L {args.port}:127.0.0.1:{args.port} HOST`. ctrl+c stops.", flush=True)
    try:
        guarded_server(command_for(args.name, args.watch), "127.0.0.1", args.port, f"gpumigrate {args.name}",
                       guard).serve()
    finally:
        link_file.unlink(missing_ok=True)
    return 0
