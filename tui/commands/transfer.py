"""``gpumigrate transfer SRC DST``: rsync semantics between local, s3:// and gs:// (verified, resumable)."""

from __future__ import annotations

import argparse
from typing import Any

from typing import Callable

from engine.errors import with_exit_status
from tui.argtypes import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transfer", help="copy a tree between local, s3:// and gs:// with rsync semantics (verified, resumable)",
        description="Copy what is new or changed from SRC to DST (like `gcloud storage rsync`). Re-running the "
                    "same command after an interruption resumes, including inside half-copied large files.")
    p.add_argument("src", nargs="?", help="local path, file://..., s3://bucket/prefix or gs://bucket/prefix")
    p.add_argument("dst", nargs="?", help="gs://bucket/prefix, a local path, or s3://bucket/prefix")
    p.add_argument("--cleanup", metavar="DST",
                   help="list the temporary files, components and unfinished multipart uploads killed runs left "
                        "at DST (a dry run); with --remove, remove those older than 15 minutes that no "
                        "running transfer uses")
    p.add_argument("--remove", action="store_true", help="with --cleanup: remove what it lists")
    p.add_argument("--abort-unknown-uploads", action="store_true",
                   help="with --cleanup gs://... or s3://... --remove: also abort unfinished multipart uploads "
                        "that no journal on this machine records (the store cannot tell whose they are: another "
                        "tool's too)")
    p.add_argument("-r", "--recursive", action="store_true", help="copy whole trees (without it: top level only, as gsutil)")
    p.add_argument("-d", "--delete", action="store_true", help="delete destination objects the source lacks (guarded)")
    p.add_argument("-x", "--exclude", action="append", default=[], metavar="REGEX",
                   help="skip relative paths matching REGEX (re.match, as gsutil -x); repeatable")
    p.add_argument("-c", "--checksum", action="store_true", help="compare by checksum instead of size and mtime")
    p.add_argument("-n", "--dry-run", action="store_true", help="print exactly what would be copied and deleted")
    p.add_argument("--max-delete", type=bounded(0, 10**12, integer=True), default=None, metavar="N",
                   help="refuse -d beyond N deletions (default: 10%% of the destination or 1,000, whichever is smaller)")
    p.add_argument("--allow-empty-source", action="store_true", help="let -d run when the source lists empty")
    p.add_argument("--no-follow-symlinks", action="store_true",
                   help="skip symbolic links in a local source, each reported (default: follow them; loops are detected)")
    p.add_argument("--skip-broken-symlinks", action="store_true",
                   help="report broken links as notices, not failures (their destination objects are kept)")
    p.add_argument("-j", "--jobs", type=bounded(1, 256, integer=True), default=None,
                   help="objects and parts in flight (default: 8, and up to 32 small objects besides)")
    p.add_argument("--bwlimit", metavar="RATE", help="bytes per second overall, e.g. 50M")
    p.add_argument("--part-threshold", type=bounded(5, 5 * 1024 * 1024, integer=True), default=150, metavar="MIB",
                   help="files at least this large go in parallel parts (default 150)")
    p.add_argument("--part-size", type=bounded(1, 5 * 1024, integer=True), default=None, metavar="MIB",
                   help="part size (default: the file's size / -j, or larger beside other large files "
                        "still to send, which share the -j slots; between 16 and 64)")
    p.add_argument("--s3-conditional-writes", choices=("auto", "on", "off"), default="auto",
                   help="s3:// destination: guard writes and deletes with If-None-Match/If-Match (on), never (off), "
                        "or on until the endpoint refuses them, then unguarded and said so (auto, the default)")
    p.add_argument("--gcs-large-uploads", choices=("auto", "xml-multipart", "compose", "single"), default="auto",
                   help="gs:// destination, objects over --part-threshold: XML multipart upload, composite upload, or "
                        "one resumable upload each (auto: XML multipart on Google Cloud, compose on an emulator); "
                        "XML multipart takes no precondition, so a write landing just before its completion is "
                        "overwritten: single is the fully guarded way")
    p.add_argument("--verify-only", action="store_true", help="compare the two trees by checksum; copy nothing (what a copy with the same -r and link options produces)")
    p.add_argument("--manifest", metavar="PATH", help="with --verify-only: write a JSON-lines manifest here")
    p.add_argument("--journal", metavar="PATH", help="resume journal file (default: one per SRC/DST pair in the state dir)")
    p.add_argument("--engine", choices=("local", "sts", "auto"), default="local",
                   help="who copies: this machine (default), Storage Transfer Service, or auto (by planned size)")
    p.add_argument("--yes-delete", action="store_true",
                   help="STS only: confirm delete-unique-in-sink when the deletion count is unknown or over --max-delete")
    p.add_argument("--project", metavar="PROJECT", help="Google Cloud project that owns the STS job")
    p.add_argument("--sts-role-arn", metavar="ARN", help="STS reading s3://: the IAM role it assumes")
    p.add_argument("--agent-pool", metavar="POOL", help="STS reading a local path: the agent pool id")
    p.add_argument("--sts-poll-interval", type=bounded(0.01, 600), default=None, metavar="S",
                   help="seconds between polls of the STS operation (default 10)")
    p.add_argument("--disable", action="store_true",
                   help="with --engine sts: disable this entry's STS job (no scheduled run starts again); "
                        "cutover sign-off does this for every entry of the profile")
    p.add_argument("--enable", action="store_true",
                   help="with --engine sts: re-enable a job disabled at cutover (deliberately)")
    p.add_argument("--json", action="store_true", help="NDJSON events, then a summary line")
    p.add_argument("--verbose", "-v", action="store_true", help="list every object copied")
    p.set_defaults(handler=run)


def _set_sts_status(args: argparse.Namespace) -> int:
    """``--disable`` / ``--enable``: change only the status of the entry's STS job."""
    from engine.errors import BadInputError, ExitCode
    from engine.transfer.api import TransferSpec
    from engine.transfer.sts import make_client
    from engine.transfer.sts_jobs import set_job_status
    from tui.output import print_json

    if args.engine != "sts":
        raise BadInputError("--disable and --enable act on Storage Transfer Service jobs: add --engine sts")
    if args.disable and args.enable:
        raise BadInputError("--disable and --enable exclude each other")
    if not args.project:
        raise BadInputError("--project is needed: the STS job belongs to a Google Cloud project")
    spec = TransferSpec(src=args.src, dst=args.dst, recursive=True, engine="sts")
    result = set_job_status(make_client(), spec, args.project, "DISABLED" if args.disable else "ENABLED",
                            dry_run=args.dry_run)
    if args.json:
        print_json({"event": "sts_job_status", **result.to_dict(), "dry_run": args.dry_run})
    else:
        note = " (dry run: nothing changed)" if args.dry_run else ""
        print(f"STS job {result.job_name} ({result.src} -> {result.dst}): {result.outcome}{note}")
    return int(ExitCode.OK)


def _cleanup(args: argparse.Namespace) -> int:
    """``--cleanup DST``: what killed runs left (dry run), removed with ``--remove``."""
    from engine.errors import BadInputError, ExitCode
    from engine.transfer.backends import open_backend
    from engine.transfer.temps import find_leftovers, find_unfinished_uploads, remove_leftovers
    from engine.transfer.urls import parse_url

    loc = parse_url(args.cleanup)
    if args.abort_unknown_uploads and not (args.remove and loc.scheme in ("gs", "s3")):
        raise BadInputError("--abort-unknown-uploads goes with --cleanup gs://... or s3://... --remove")
    backend = open_backend(loc)
    errors: list[str] = []
    uploads, not_listed, removed, aborted = [], "", 0, 0
    try:
        found = find_leftovers(backend)
        try:
            uploads, not_listed = find_unfinished_uploads(backend)
        except Exception as exc:  # noqa: BLE001 - the listing is incomplete: said, and the exit says so
            errors.append(f"unfinished multipart uploads could not be listed: {type(exc).__name__}: {exc}")
        if args.remove:
            removed, failed = remove_leftovers(backend, found)
            aborted, failed_uploads = remove_leftovers(backend, uploads, abort_unknown=args.abort_unknown_uploads)
            errors += failed + failed_uploads
    finally:
        backend.close()
    if args.json:
        _cleanup_json(args, found, uploads, not_listed, removed + aborted, errors)
    else:
        _cleanup_text(args, found, removed)
        _uploads_text(args, uploads, not_listed, aborted)
        for err in errors:
            print(f"  failed: {err}")
    return int(ExitCode.FAILED if errors else ExitCode.OK)


def _cleanup_json(args: argparse.Namespace, found: list, uploads: list, not_listed: str, removed: int,
                  errors: list[str]) -> None:
    import time

    from tui.output import print_json

    print_json({"event": "cleanup", "dst": args.cleanup, "found": len(found) + len(uploads),
                "recent": sum(1 for f in found + uploads if f.recent), "removed": removed,
                "dry_run": not args.remove, "errors": errors,
                "leftovers": [{"name": f.name, "size": f.size, "age_s": round(f.age_s), "running": f.running}
                              for f in found[:1000]],
                "uploads_not_listed": not_listed or None,
                "uploads": [{"name": u.name, "upload_id": u.upload_id, "parts": u.parts, "size": u.size,
                             "initiated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(u.started or 0)),
                             "idle_s": round(u.age_s), "recent": u.recent, "running": u.running,
                             "journal": None if u.owner is None else {
                                 "src": u.owner.src, "dst": u.owner.dst, "continues": u.owner.continues,
                                 "file": str(u.owner.journal)}} for u in uploads[:1000]]})


def _cleanup_text(args: argparse.Namespace, found: list, removed: int) -> None:
    from engine.transfer.temps import RECENT_S

    for f in found[:200]:
        note = (" (its transfer is running now; kept)" if f.running else
                " (recent: may belong to a running transfer; kept)" if f.recent else "")
        print(f"{'removed' if args.remove and not f.recent else 'leftover'} {f.name} ({f.size} bytes, "
              f"{f.age_s / 60:.0f} min old){note}")
    total = sum(f.size for f in found)
    if args.remove:
        print(f"removed {removed} of {len(found)} leftovers ({total} bytes found); "
              f"{sum(1 for f in found if f.recent)} younger than {RECENT_S // 60} min or in use kept")
    else:
        print(f"{len(found)} leftovers ({total} bytes); dry run: nothing removed "
              "(add --remove to remove those older than 15 minutes)")


def _uploads_text(args: argparse.Namespace, uploads: list, not_listed: str, aborted: int) -> None:
    """Unfinished multipart uploads: key, upload id, start, parts, and whose they are as far as
    this machine can tell (neither store lists which tool started one: only the journals here know)."""
    import time

    kind = "XML multipart uploads" if args.cleanup.startswith("gs://") else "multipart uploads"
    store = "GCS" if args.cleanup.startswith("gs://") else "S3"
    if not_listed:
        print(f"unfinished {kind}: not listed ({not_listed})")
    for u in uploads[:200]:
        kept = (" (its transfer is running now; kept)" if u.running else
                " (recent: may belong to a running transfer; kept)" if u.recent else
                " (kept: add --abort-unknown-uploads to abort it)" if u.unknown and not args.abort_unknown_uploads
                else "")
        gone = args.remove and not kept
        print(f"{'aborted' if gone else 'unfinished upload'} {u.name} (upload id {u.upload_id}, "
              f"started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(u.started or 0))}, {u.parts} parts, "
              f"{u.size} bytes, last written {u.age_s / 60:.0f} min ago): {_upload_owner(u, store, gone)}"
              f"{kept if args.remove or u.recent else ''}")
    if not uploads:
        return
    unknown, size = sum(1 for u in uploads if u.unknown), sum(u.size for u in uploads)
    if args.remove:
        print(f"aborted {aborted} of {len(uploads)} unfinished {kind} ({size} bytes of parts found); "
              f"{unknown} recorded by no journal on this machine" + ("" if args.abort_unknown_uploads else ", kept"))
    else:
        print(f"{len(uploads)} unfinished {kind} ({size} bytes of parts, billed until aborted), "
              f"{unknown} of them recorded by no journal on this machine; dry run: nothing aborted (--remove aborts "
              "those idle over 15 minutes that a journal here records; add --abort-unknown-uploads for the others)")


def _upload_owner(u: Any, store: str, aborted: bool) -> str:
    if u.owner is None:
        return (f"no journal on this machine records it (a lost journal, another machine or another tool: "
                f"{store} lists nothing that tells which tool started it)")
    then = ("copies that object afresh" if aborted and u.owner.continues else "resumes it" if u.owner.continues
            else "would have aborted it" if aborted else "aborts it")
    return f"started by gpumigrate for {u.owner.src} -> {u.owner.dst} (the next run of that transfer {then})"


def run(args: argparse.Namespace) -> int:
    from engine.errors import GpumigrateError, Interrupted
    from tui import startup

    try:
        try:
            return _run(args, startup.over)
        except Interrupted as exc:  # the engine's words are neutral; here the same command resumes (its journal)
            if "same command again" in str(exc):
                raise
            said = Interrupted(f"{exc}; run the same command again to resume")
            said.summary = getattr(exc, "summary", None)  # type: ignore[attr-defined]
            raise said from exc
    except (GpumigrateError, PermissionError, KeyboardInterrupt) as exc:
        if args.json:  # NDJSON ends with the summary whatever the failure; the reason also goes to stderr
            _failure_summary(exc)
        raise
    finally:
        startup.over()


def _failure_summary(exc: BaseException) -> None:
    """The last NDJSON object of a run that ended in an error: the counts so far when the run had begun
    (``exc.summary``), the error, the exit status and its meaning. A run that could not reach the address or
    list the source ended with a progress event and the reason only on stderr."""
    from engine.errors import ExitCode, GpumigrateError
    from engine.secrets import redact_data
    from tui.output import print_json

    if isinstance(exc, GpumigrateError):
        code, error = int(exc.exit_code), str(exc)
    elif isinstance(exc, PermissionError):
        code, error = int(ExitCode.ENVIRONMENT), f"permission denied: {exc.filename or exc}"
    else:
        code, error = int(ExitCode.INTERRUPTED), "interrupted"
    summary = getattr(exc, "summary", None)
    event = summary.to_event() if summary is not None else {"event": "summary"}  # no counts: none known
    event = with_exit_status({**event, "error": error, "started": summary is not None}, code)
    try:
        print_json(redact_data(event))
    except (BrokenPipeError, ValueError):
        pass


def _run(args: argparse.Namespace, startup_over: Callable[[], None]) -> int:
    """The command; ``startup_over`` is called once the clients are built (:mod:`tui.startup`)."""
    import signal
    import sys
    from pathlib import Path

    from pydantic import ValidationError

    from engine.errors import BadInputError, ExitCode
    from engine.events import ItemDone, Progress
    from engine.transfer.api import TransferControl, TransferSpec, run_transfer, verify_trees
    from tui.output import make_sink, output_closed, print_json, report_output, say_closed

    if args.cleanup or args.disable or args.enable or args.engine != "local":
        startup_over()  # their clients are built inside the engine's calls
    if args.cleanup:
        return _cleanup(args)
    if not args.src or not args.dst:
        raise BadInputError("transfer needs SRC and DST (or --cleanup DST)")
    if args.disable or args.enable:
        return _set_sts_status(args)
    sink = make_sink(args.json, verbose=args.verbose)
    if args.verify_only:
        startup_over()
        # The reader going away (| head) is no reason to stop comparing: the check runs to its end and
        # its result goes to stderr, so the exit status is still what was found (it was 0 whatever was).
        sink.on_closed = lambda: None
        try:
            report = verify_trees(args.src, args.dst, args.manifest, emit=sink, jobs=args.jobs or 8,
                                  exclude=args.exclude, recursive=args.recursive,
                                  follow_symlinks=not args.no_follow_symlinks,
                                  skip_broken_symlinks=args.skip_broken_symlinks)
        finally:
            sink.close()
        code = int(ExitCode.OK if report.ok else ExitCode.FAILED)
        with report_output(already_closed=sink.closed) as shown:  # the check is over: its status stays
            if not sink.closed and args.json:
                print_json(with_exit_status(report.to_event(), code))
            elif not sink.closed:
                print(report.line() + (f"; manifest: {args.manifest}" if args.manifest else ""))
                for path in report.mismatched[:50]:
                    print(f"  mismatch: {path}")
                for path in report.missing[:50]:
                    print(f"  missing:  {path}")
        if shown.closed:
            say_closed(f"{report.line()} (exit {code})")
        return code

    try:
        sts = None
        if args.sts_role_arn or args.agent_pool or args.sts_poll_interval:
            from engine.transfer.sts_options import StsOptions

            extra = {"poll_interval_s": args.sts_poll_interval} if args.sts_poll_interval else {}
            sts = StsOptions(aws_role_arn=args.sts_role_arn, agent_pool=args.agent_pool, **extra)
        spec = TransferSpec(src=args.src, dst=args.dst, recursive=args.recursive, delete=args.delete,
                            exclude=args.exclude, checksum=args.checksum, max_delete=args.max_delete,
                            allow_empty_source=args.allow_empty_source, jobs=args.jobs, bwlimit=args.bwlimit,
                            follow_symlinks=not args.no_follow_symlinks,
                            skip_broken_symlinks=args.skip_broken_symlinks,
                            part_threshold_mib=args.part_threshold, part_size_mib=args.part_size,
                            s3_conditional_writes=args.s3_conditional_writes,
                            gcs_large_uploads=args.gcs_large_uploads, engine=args.engine, sts=sts)
    except ValidationError as exc:  # the flag, what is wrong and what is accepted; not pydantic's text
        from engine.profile import field_problem

        raise BadInputError("\n".join(f"--{field.replace('_', '-')}: {why}"
                                      for field, why in map(field_problem, exc.errors()))) from None

    import threading

    out_lock = threading.Lock()

    def emit(event):  # people get bars and lines; the per-object feed is for screens and --json
        if not args.json:
            if isinstance(event, Progress) and event.label == "object":
                return
            if isinstance(event, ItemDone) and event.status.startswith("would_"):
                verb = event.status.replace("_", " ")
                line = f"{verb} {event.item} ({event.data.get('size', 0)} bytes)\n"
                with out_lock:  # workers print at once: one write per whole line
                    if sink.closed:
                        return
                    try:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                    except (OSError, ValueError) as exc:
                        output_closed(sink, exc)
                return
        sink(event)

    control = TransferControl()
    interrupts = [0]

    def output_gone() -> None:  # nobody reads what this run says any more: stop it as Ctrl-C would
        from engine.transfer.summary import DRY_RUN_LEFT
        from tui.output import how_lost

        print(f"gpumigrate: {how_lost()}; " + (f"stopping the dry run ({DRY_RUN_LEFT})" if args.dry_run else
                                                "stopping the transfer (run the same command again to resume)"),
              file=sys.stderr)
        control.cancel()

    sink.on_closed = output_gone

    def on_sigint(signum, frame):  # first Ctrl-C: stop cleanly (journal kept); second: hard stop
        interrupts[0] += 1
        if interrupts[0] > 1:
            raise KeyboardInterrupt
        control.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    # SIGTERM (systemctl stop, docker stop, kill): the same clean stop. Without it the run died
    # mid-copy without a word (exit 143), its journal still saying "running".
    previous_term = signal.signal(signal.SIGTERM, on_sigint)
    if args.engine != "local":
        from engine.transfer.step import run_entry

        try:
            out = run_entry(spec, emit=emit, control=control, dry_run=args.dry_run, journal=args.journal,
                            project=args.project or "", confirm_delete=args.yes_delete, base_dir=Path.cwd())
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
            sink.close()
        code = _exit_code(out)
        with report_output(already_closed=sink.closed) as shown:
            if args.json:
                keys = ("copied", "deleted", "skipped", "failed", "bytes", "bytes_sent", "bytes_resumed", "verified",
                        "planned_bytes", "planned_objects", "engine", "engine_reason", "status", "job_name",
                        "interrupted", "delete_refused", "failures")
                print_json(with_exit_status({"event": "summary", **{k: out.data[k] for k in keys if k in out.data}}, code))
            else:
                print(f"{out.engine} engine ({out.reason}): {out.line}")
                for failure in out.data.get("failures", [])[:50]:
                    print(f"  failed: {failure.get('path') or failure.get('item')}: "
                          f"{failure.get('error') or failure.get('detail')}")
        if shown.closed and not sink.closed:
            say_closed(f"{out.line} (exit {code})")
        return code
    try:
        summary = run_transfer(spec, emit=emit, control=control, dry_run=args.dry_run, journal=args.journal,
                               opened=startup_over)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
        sink.close()
    code = _exit_code(summary)
    # The copy is over: a reader gone now (its summary line met `| head -c 10`) changes nothing it did, so the
    # status stays what it found, said on stderr (a failed copy exited 0 so: the CLI mapped the broken pipe to 0).
    with report_output(already_closed=sink.closed) as shown:
        _print_summary(args, summary, code)
    if shown.closed and not sink.closed:
        say_closed(f"{summary.line()} (exit {code})")
    return code


def _exit_code(outcome: Any) -> int:
    """A run's exit status from its outcome (a transfer summary or a Storage Transfer job's): interrupted wins."""
    from engine.errors import ExitCode

    return int(ExitCode.INTERRUPTED if outcome.interrupted else ExitCode.OK if outcome.ok else ExitCode.FAILED)


def _print_summary(args: argparse.Namespace, summary: Any, code: int) -> None:
    """The transfer's last lines: its summary, failures and what was not copied, the next step."""
    from tui.output import print_json

    if args.json:
        print_json(with_exit_status(summary.to_event(), code))
    else:
        print(summary.line())
        shown = summary.failures[:50]
        for failure in shown:
            print(f"  failed: {failure.path}: {failure.error}")
        if summary.failed > len(shown):  # at scale: say what was left out, never let 50 lines read as all
            print(f"  ... {summary.failed - len(shown):,} more failures not listed ({summary.failed:,} in all; "
                  f"--json lists the first {len(summary.failures):,})")
        for entry in summary.not_copied[:50]:
            print(f"  not copied: {entry.path}: {entry.reason}")
        not_copied = sum(summary.not_copied_by_reason.values())
        if not_copied > min(len(summary.not_copied), 50):
            print(f"  ... {not_copied - min(len(summary.not_copied), 50):,} more not copied, not listed "
                  f"({not_copied:,} in all, counted by reason above)")
        if summary.failed and not summary.interrupted:
            from engine.transfer.summary import what_to_fix

            fix = what_to_fix(summary.failed, (f.error for f in summary.failures), "fix what each failed line names")
            print(f"next: {fix}, then run the same command again "
                  f"(copied objects are skipped, the {summary.failed} failed retried)")
