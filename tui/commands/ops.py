"""``gpumigrate ops PROFILE``: day-two artefacts (alerts, Prometheus, Grafana, budget, spot watcher, rollback).

Renders everything (or one kind with ``--emit``), writes the files with
``--out DIR``, creates/updates the alert policies and budget with ``--apply``,
and runs the rollback's reverse sync with ``--reverse-sync``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

KINDS = ("alerts", "prometheus", "grafana", "budget", "spot-watcher", "rollback")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="day two: alert policies, Prometheus/Grafana, budget, spot watcher, rollback plan")
    p.add_argument("profile")
    p.add_argument("--emit", choices=KINDS,
                   help="print one file of this artefact kind, raw, ready to pipe (its first file; --file picks "
                        "another); --out DIR writes every file separately")
    p.add_argument("--file", metavar="NAME", help="with --emit: which of the kind's files to print")
    p.add_argument("--apply", action="store_true",
                   help="create or update the alert policies and the budget (idempotent; needs credentials)")
    p.add_argument("--json", action="store_true", help="one JSON document: artefacts, skipped kinds, what applied")
    p.add_argument("--out", metavar="DIR", help="write the artefacts as files under DIR")
    p.add_argument("--reverse-sync", action="store_true",
                   help="rollback: copy data back from the target to the source (every [[transfer]] reversed)")
    p.add_argument("--dry-run", "-n", action="store_true", help="with --reverse-sync: plan only, copy nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.errors import BadInputError
    from engine.events import discard
    from engine.ops.artefacts import write_all
    from engine.ops.render import render_all
    from engine.profile import load_profile
    from tui.output import make_sink, print_json

    profile_path = Path(args.profile)
    profile = load_profile(profile_path)
    if args.reverse_sync:
        if args.apply or args.emit:
            raise BadInputError("--reverse-sync runs on its own (without --emit or --apply)")
        from engine.ops.rollback import reverse_sync

        sink = make_sink(args.json)
        try:
            results = reverse_sync(profile, emit=sink, base_dir=profile_path.resolve().parent, dry_run=args.dry_run)
        finally:
            sink.close()
        ok = all(r["ok"] for r in results)
        if args.json:
            print_json({"reverse_sync": results, "dry_run": args.dry_run, "ok": ok})
        else:
            for r in results:
                state = "ok" if r["ok"] else "FAILED"
                print(f"reverse sync {r['src']} -> {r['dst']}: {state}; {r['line']}".rstrip("; "))
            if not results:
                print("no [[transfer]] entries: nothing to reverse")
        return 0 if ok else 1

    result = render_all(profile, [args.emit] if args.emit else None, profile_path=profile_path,
                        strict=bool(args.emit))
    doc: dict = {"artefacts": [i.to_dict() for i in result.items], "skipped": result.skipped}
    if result.run_rate is not None:
        doc["budget_monthly"] = {"amount": round(result.run_rate.monthly, 2), "source": result.run_rate.source,
                                 "currency": result.run_rate.currency}
    written = write_all(result.items, Path(args.out)) if args.out else []
    if args.apply:
        if args.emit and args.emit not in ("alerts", "budget"):
            raise BadInputError("--apply works on alerts and budget (the other artefacts are files to install)")
        emit = discard if args.json else make_sink(False, verbose=True)
        try:
            doc["applied"] = _apply(args, profile, result, emit)
        except Exception as exc:  # an API error the per-policy handling does not absorb (403, 503...)
            from engine.ops.step import api_failure

            failure = api_failure(exc)
            if failure is None:
                raise
            raise failure from None
    if args.json:
        if written:
            doc["written"] = [str(p) for p in written]
        print_json(doc)
        return 1 if any(r.get("failed") for r in doc.get("applied", {}).values()) else 0
    if written:
        for path in written:
            print(f"wrote {path}")
    elif args.emit:
        # One file on stdout, exactly as written to disk, so it can be piped into promtool, jq, kubectl...
        chosen = [i for i in result.items if i.filename == args.file] if args.file else result.items[:1]
        if not chosen:
            raise BadInputError(f"--file {args.file}: {args.emit} has "
                                f"{', '.join(i.filename for i in result.items)}")
        sys.stdout.write(chosen[0].text)
        others = [i.filename for i in result.items if i is not chosen[0]]
        if others:
            print(f"{args.emit}: printed {chosen[0].filename}; also {', '.join(others)} "
                  "(--file NAME, or --out DIR for all)", file=sys.stderr)
    elif not args.apply:
        for item in result.items:
            print(f"{item.filename:34} {item.title} ({item.text.count(chr(10))} lines)")
        print("print one with --emit KIND, or write them all with --out DIR")
    for kind, why in result.skipped.items():
        print(f"{kind}: not generated: {why}", file=sys.stderr)
    failed = False
    for kind, report in doc.get("applied", {}).items():
        print(f"{kind}: {len(report['created'])} created, {len(report['updated'])} updated, "
              f"{len(report['unchanged'])} unchanged, {len(report.get('failed', {}))} refused")
        for name, why in report.get("failed", {}).items():
            failed = True
            print(f"  refused: {name}: {why}", file=sys.stderr)
    return 1 if failed else 0


def _apply(args: argparse.Namespace, profile: Any, result: Any, emit: Any) -> dict[str, Any]:
    """What ``--apply`` changed: the alerts, the budget, or both."""
    if args.emit == "alerts":
        from engine.ops.alerts import apply_alert_policies

        return {"alerts": apply_alert_policies(profile, emit=emit).to_dict()}
    if args.emit == "budget":
        from engine.ops.budget import apply_budget

        if not profile.ops.billing_account:
            raise BadInputError("[ops].billing_account is needed to create the budget")
        return {"budget": apply_budget(profile, result.run_rate, emit=emit).to_dict()}
    from engine.ops.step import apply_all

    return apply_all(profile, result.run_rate, emit)
