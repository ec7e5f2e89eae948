"""``gpumigrate verify PROFILE``: prove the target is at least as good as the source.

On the source: ``--capture-baseline FILE`` measures and writes the baseline.
On the target: ``--baseline FILE`` (or ``[verify] baseline``) compares with it.
Reports: ``--report report.md`` (with ``report.html`` and plots beside it),
``--html``, ``--junit``, ``--json`` (NDJSON events, then the report).  Exit 1
when any check fails or errors (FAIL) or an expected check did not run
(INCOMPLETE).

Sign-off: ``--session S --sign-off approve|reject|accept-gaps --note TEXT``
signs the session's last verification instead of running the checks.  Only a
PASS is approved; FAIL and INCOMPLETE are rejected or accepted with known gaps,
which needs a written note and waits for a second person
(``gpumigrate session approve S ID``).
"""

from __future__ import annotations

import argparse
import sys

from tui.argtypes import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify the target against a baseline captured on the source")
    p.add_argument("profile")
    p.add_argument("--baseline", metavar="FILE", help="the baseline captured on the source (overrides [verify] baseline)")
    p.add_argument("--capture-baseline", metavar="FILE", help="capture a baseline on this machine (the source)")
    p.add_argument("--report", metavar="FILE.md", help="write a Markdown report (and an HTML one beside it)")
    p.add_argument("--html", metavar="FILE", help="write an HTML report")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (one test case per check)")
    p.add_argument("--json", action="store_true", help="NDJSON events, then the whole report as one JSON line")
    p.add_argument("--only", help="comma-separated checks: gpu_health,topology,data_integrity,model_load,"
                                  "latency,convergence,throughput")
    p.add_argument("--session", "-s", help="record the run in this named session")
    p.add_argument("--sign-off", choices=("approve", "reject", "accept-gaps"),
                   help="sign off the session's last verification instead of running the checks "
                        "(accept-gaps: a FAIL or INCOMPLETE accepted with a written --note and a second person)")
    p.add_argument("--note", default="", help="the sign-off's note (required for accept-gaps: what is missing, why)")
    p.add_argument("--approval-timeout", type=bounded(1, 7 * 86_400), default=None, metavar="SECONDS",
                   help="accept-gaps: give up if nobody approves within this time (default: wait)")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from engine.errors import BadInputError, ExitCode
    from engine.profile import load_profile
    from engine.runner import run_steps
    from engine.session import SessionStore
    from tui.output import make_sink, print_json, report_output, say_closed, stop_on_sigterm

    profile = load_profile(args.profile)
    if args.sign_off:
        return _sign_off(args)
    if args.baseline and args.capture_baseline:
        raise BadInputError("--baseline and --capture-baseline exclude each other (compare, or capture)")
    options: dict[str, object] = {}
    if args.baseline:
        options["baseline"] = str(Path(args.baseline).resolve())
    if args.capture_baseline:
        options["capture_baseline"] = str(Path(args.capture_baseline).resolve())
    if args.only:
        from engine.verify.suite import check_only

        only = [c.strip() for c in args.only.split(",") if c.strip()]
        check_only(only, "--only")  # bad input named by its option (exit 2, stderr), not the step's failure line
        options["only"] = only
    if args.report:
        md = Path(args.report).resolve()
        options["markdown"] = str(md)
        options["html"] = str(md.with_suffix(".html")) if md.suffix.lower() == ".md" else None
    if args.html:
        options["html"] = str(Path(args.html).resolve())
    if args.junit:
        options["junit"] = str(Path(args.junit).resolve())
    sink = make_sink(args.json, verbose=args.verbose)
    # A reader that goes away (| head -1) is no reason to stop checking: the checks run to their end, the result
    # goes to stderr and the exit status is what they found (the broken pipe made the step fail: exit 1).
    sink.on_closed = lambda: None
    session_cm = SessionStore.open(args.session) if args.session else contextlib.nullcontext()
    with session_cm as session, stop_on_sigterm() as cancel:
        try:
            summary = run_steps(profile, ["verify"], emit=sink, profile_path=Path(args.profile).resolve(),
                                session=session, options=options, cancel=cancel)
        finally:
            sink.close()
    result = summary.results.get("verify")
    report = (result.data.get("report") if result else None) or {}
    with report_output(already_closed=sink.closed) as out:
        if args.json:
            print_json({"event": "summary", "ok": summary.ok, "exit_code": int(summary.exit_code),
                        "files": (result.data.get("files", []) if result else []), "report": report})
        elif report:
            _print_table(report)
    code = int(ExitCode.FAILED) if summary.exit_code == ExitCode.OK and result and not result.ok \
        else int(summary.exit_code)
    if code == ExitCode.INTERRUPTED:  # what is kept: a verify has nothing to resume, only to run again
        print("gpumigrate: verify was interrupted: no verdict; "
              + (f"session {args.session} records it as interrupted; `gpumigrate verify {args.profile} --session "
                 f"{args.session}` runs it again" if args.session else
                 "nothing was recorded (no --session); run it again for a verdict"), file=sys.stderr)
    if out.closed:
        say_closed(" ".join(filter(None, (report.get("summary") or (result.summary if result else ""),
                                          report.get("incomplete")))) + f" (exit {code})")
    return code


def _print_table(report: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from tui.output import console as make_console

    style = {"pass": "green", "fail": "bold red", "error": "bold red", "not-run": "dim"}
    table = Table(title="verification", show_lines=False)
    for col in ("check", "result", "measured", "threshold"):
        table.add_column(col, overflow="fold")
    for c in report.get("checks", []):
        status = c["status"]
        if status == "not-run" and c.get("expected") and not c.get("optional"):
            shown = "[bold red]NOT RUN (expected)[/]"
        else:
            shown = f"[{style.get(status, 'dim')}]{status}{' (optional)' if c.get('optional') else ''}[/]"
        table.add_row(escape(c["title"]), shown, escape(c["summary"]), escape(c.get("threshold") or ""))
    console = make_console()
    console.print(table)
    console.print(report.get("summary", ""), markup=False)
    if report.get("incomplete"):
        console.print(report["incomplete"], markup=False, style="bold red")


def _sign_off(args: argparse.Namespace) -> int:
    import sys

    from engine.errors import BadInputError
    from engine.session import SessionStore
    from engine.verify.signoff import last_report, sign_off
    from tui.output import print_json

    if not args.session:
        raise BadInputError("--sign-off needs --session NAME (the session whose verification is signed)")
    decision = {"approve": "approved", "reject": "rejected", "accept-gaps": "accepted-with-gaps"}[args.sign_off]
    with SessionStore.open(args.session, create=False) as session:
        report = last_report(session)
        if decision == "accepted-with-gaps":
            from engine.verify.signoff import staleness

            gap = staleness(session, report)
            print(f"{report.summary()}\n{report.incomplete_line()}".rstrip(), file=sys.stderr)
            if gap is not None:
                print(gap.words(), file=sys.stderr)
        entry = sign_off(session, report, decision, args.note, timeout=args.approval_timeout,  # type: ignore[arg-type]
                         emit=lambda ev: print(getattr(ev, "text", ""), file=sys.stderr))
    if args.json:
        print_json({"event": "signoff", **entry})
    else:
        from engine.verify.report.common import second_person

        second = f", approved by {second_person(entry)}" if entry.get("approved_by") else ""
        print(f"{entry['decision']} by {entry['operator']}{second}: {entry['summary']} (session {args.session})")
    return 0
