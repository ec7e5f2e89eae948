"""``gpumigrate attach NAME``: open the app on a running session (same as ``session attach``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="open the app on a session: drive if nobody does, else approve and tick as the "
                       "second person (--watch: only watch)")
    p.add_argument("name", help="the session's name (see `gpumigrate session list`)")
    p.add_argument("--watch", action="store_true", help="only watch, even if nobody drives")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.session import SessionStore
    from tui.app import run_app

    SessionStore.open(args.name, create=False).close()  # a clear error before the screen opens
    return run_app(session=args.name, watch=args.watch)
