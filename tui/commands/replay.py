"""``gpumigrate replay PROFILE``: run the profile's steps headlessly, in order."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="run a profile's steps headlessly (the same way twice)")
    p.add_argument("profile")
    p.add_argument("--steps", help="comma-separated subset: inventory,cost,transfer,drivers,verify,ops")
    p.add_argument("--dry-run", "-n", action="store_true", help="plan and report; change nothing")
    p.add_argument("--json", action="store_true", help="NDJSON events, then a summary line")
    p.add_argument("--session", "-s", help="record in (and resume) this named session")
    p.add_argument("--detach", action="store_true",
                   help="run in a worker process that outlives this terminal (needs --session)")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.errors import BadInputError
    from engine.profile import load_profile
    from engine.runner import resolve_steps, run_steps
    from engine.session import SessionStore
    from tui.output import make_sink, print_json

    profile = load_profile(args.profile)
    steps = resolve_steps([s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None)
    if args.detach:
        if not args.session:
            raise BadInputError("--detach needs --session NAME (the worker records there)")
        from engine.cutover.worker import launch_detached

        pid = launch_detached(args.session, Path(args.profile), steps, dry_run=args.dry_run)
        print(f"started worker pid {pid} for session {args.session}; follow it with "
              f"`gpumigrate session tail {args.session}` or `gpumigrate session attach {args.session}`")
        return 0
    name = args.session or f"replay-{Path(args.profile).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    sink = make_sink(args.json, verbose=args.verbose)
    with SessionStore.open(name) as session:
        try:
            summary = run_steps(profile, steps, emit=sink, profile_path=Path(args.profile).resolve(),
                                dry_run=args.dry_run, session=session)
        finally:
            sink.close()
    if args.json:
        out = summary.to_event_dict()
        out["session"] = name
        print_json(out)
    else:
        state = "ok" if summary.ok else f"exit {int(summary.exit_code)}"
        print(f"session {name}: {state}")
    return int(summary.exit_code)
