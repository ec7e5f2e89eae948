"""What a Ctrl-C that stopped a command leaves behind, in that command's own terms.

The CLI said "interrupted; run the same command again to resume" after every command. Only a transfer (and a
reverse sync, which is one) resumes: its journal keeps what was copied. `verify`, `inventory`, `cost` and the
other reports have nothing to resume; a command that writes files may leave them cut short; one that changes
a session or a cloud project says where to see what it did. Kept apart from tui.cli so that each command's
words sit in one table beside the reason for them.
"""

from __future__ import annotations

import argparse

_READS = "it only reads, so nothing was changed or saved; run it again for its result"
_SESSION_WRITES = frozenset({"approve", "decline", "tick", "cancel", "pause", "continue", "share", "unshare",
                             "resume"})


def interrupted_words(args: argparse.Namespace) -> str:
    """The sentence after "gpumigrate: interrupted; " for a KeyboardInterrupt that reached the CLI."""
    command = args.command
    action = getattr(args, "session_command", None) or getattr(args, "verb", None)
    out = getattr(args, "out", None)
    if command in (None, "attach", "serve") or action == "attach":
        return ("the app stopped: a step it ran without a session stopped with it (open the app again and run that "
                "step again: a transfer goes on from where it stopped); a session's worker goes on (`gpumigrate "
                "session show NAME`)")
    if command == "transfer":
        return _transfer_words(args)
    if getattr(args, "reverse_sync", False):
        return "run the same command again to resume (what was copied is kept and skipped)"
    if command == "replay":
        # Inside a step the replay ends itself (with the command that resumes it); this is before a step began or
        # after the last ended, where a replay without --session would start a new session, not resume one.
        return ("it stopped outside its steps; "
                + (f"`gpumigrate session show {args.session}` says what the session recorded" if args.session
                   else "`gpumigrate session list` shows the sessions replays recorded"))
    if command == "verify":
        files = [f for f in (getattr(args, "report", None), getattr(args, "html", None), getattr(args, "junit", None),
                             getattr(args, "capture_baseline", None)) if f]
        said = "no verdict was given; run it again for one"
        if files:
            said += f" ({', '.join(files)} may be missing or from an earlier run)"
        if args.session:
            said += f"; `gpumigrate session show {args.session}` says what the session recorded"
        return said
    if command == "ops" and getattr(args, "apply", False):
        return ("some alert policies or the budget may have been created or updated already; run it again to apply "
                "the rest (it creates what is missing and updates what is there)")
    if command == "session" and action in _SESSION_WRITES:
        return f"`gpumigrate session show {getattr(args, 'name', 'NAME')}` says whether it was recorded"
    if command == "init" or (command == "catalog" and action == "refresh"):  # written to a temporary file, renamed
        what = args.file if command == "init" else "the user price cache"
        return f"{what} is as it was (it is written whole or not at all); run it again"
    written = {"drivers": out or getattr(args, "record", None), "ops": out,
               "session": out if action == "export" else None}.get(command)
    if written:
        return f"the files in {written} may be cut short, missing or from an earlier run; run it again to write them"
    return _READS


def _transfer_words(args: argparse.Namespace) -> str:
    """A transfer resumes from its journal; its modes that copy nothing (-n, --verify-only, --cleanup, --enable and
    --disable of a Storage Transfer job) have no copy to keep or skip."""
    if args.cleanup:
        return ("some of the uploads it listed may be removed already; run it again to remove the rest"
                if args.remove else _READS)
    if args.disable or args.enable:
        return (f"the Storage Transfer job may be {'DISABLED' if args.disable else 'ENABLED'} already or not; "
                "run it again (it sets the same status)")
    if args.verify_only:
        said = "--verify-only copies nothing, so nothing was changed"
        if args.manifest:
            said += f" ({args.manifest} may be cut short)"
        return said + "; run it again for its result"
    if args.dry_run:
        from engine.transfer.summary import DRY_RUN_LEFT

        return f"a dry run: {DRY_RUN_LEFT}"
    return "run the same command again to resume (what was copied is kept and skipped)"
