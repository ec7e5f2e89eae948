"""The ``gpumigrate`` entry point.

Kept cheap to start: subcommand modules register their arguments here and
import the engine (and never Textual) only when they run; the app is imported
only when no subcommand is given.  Every error the engine raises on purpose
becomes one clear line on stderr and its exit code; no tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from tui.output import GuardedStdout

# Each module in tui/commands/ has register(subparsers) and sets `handler`.
COMMAND_MODULES = (
    "init",
    "validate",
    "replay",
    "inventory",
    "cost",
    "catalog",
    "transfer",
    "drivers",
    "verify",
    "ops",
    "session",
    "attach",
    "serve",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as everywhere else
        global _usage_error
        _usage_error = message
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


_usage_error: str | None = None
"""What the parser last refused (:func:`_json_usage_summary`)."""


def _json_usage_summary(argv: Sequence[str]) -> None:
    """`transfer --json` ends with one summary object whatever happens (README): a flag argparse refuses (`-j 0`,
    an unknown option) printed usage on stderr and no JSON at all, leaving a script reading the last line nothing
    to parse."""
    words = list(argv)
    words = words[:words.index("--")] if "--" in words else words
    if _usage_error is None or command_named(words) != "transfer" or "--json" not in words:
        return
    import json

    from engine.errors import ExitCode, with_exit_status
    from engine.secrets import redact_data

    event = {"event": "summary", "error": _usage_error, "started": False}
    print(json.dumps(redact_data(with_exit_status(event, int(ExitCode.BAD_INPUT)))), flush=True)


_TOP_OPTIONS_WITH_VALUE = frozenset({"--profile", "-p", "--session", "-s"})


def command_named(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names (its first word that is not a top-level option or an
    option's value), or None: then every sub-command is registered (``--help``, a typo)."""
    args = iter(argv)
    for arg in args:
        if arg == "--":
            arg = next(args, "")
            return arg if arg in COMMAND_MODULES else None
        if arg in ("-h", "--help", "--version"):
            return None
        if arg in _TOP_OPTIONS_WITH_VALUE or (  # argparse also takes --prof / --sess
                arg.startswith("--") and "=" not in arg and any(o.startswith(arg) for o in ("--profile", "--session"))):
            next(args, None)
        elif not arg.startswith("-") or arg == "-":
            return arg if arg in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only`` (a command the command line names), that sub-command
    alone: each command module is imported to register its arguments, and importing all
    thirteen is a fifth of the way to a transfer's first request (~20 ms of ~100 ms before the
    engine starts on the 2-core VM)."""
    parser = _Parser(
        prog="gpumigrate",
        description="Move GPU workloads to Google Cloud: inventory, cost, transfer, drivers, verification.",
    )
    parser.add_argument("--profile", "-p", dest="app_profile", help="profile to open in the app")
    parser.add_argument("--session", "-s", dest="app_session", help="cutover session to open or attach to")
    parser.add_argument("--version", action="version", version="gpumigrate 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in (only,) if only else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tui.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


FAST_EXIT = frozenset({"transfer"})
"""Commands whose process ends as soon as their work is done and their output is flushed
(:func:`entry`): the interpreter's teardown frees every module and the cloud clients' service
models one object at a time, 0.6-1.5 s after a short transfer had finished on the 2-core VM."""

_command: str | None = None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, with ``gpumigrate --session S COMMAND`` meaning ``COMMAND --session S``.

    A sub-command's own ``--session`` (default None) would otherwise overwrite the one given
    before it: `gpumigrate --session s1 verify P` ran unrecorded and the later sign-off found no session.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = command_named(argv)
    parser = build_parser(command)
    if command is not None and top_profile(argv) is not None:
        _profile_optional(parser, command)
    return merge_top_options(parser.parse_args(argv))


def top_profile(argv: Sequence[str]) -> str | None:
    """The ``--profile`` value given before the sub-command (``-p P``, ``--profile=P``, ``--prof P``), or None."""
    args = iter(argv)
    found = None
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            if len(name) > 2 and "--profile".startswith(name):
                found = value
            continue
        if arg == "-p" or (arg.startswith("--") and len(arg) > 2 and "--profile".startswith(arg)):
            found = next(args, None)
        elif arg in _TOP_OPTIONS_WITH_VALUE or (
                arg.startswith("--") and any(o.startswith(arg) for o in ("--session",))):
            next(args, None)
        elif not arg.startswith("-") or arg == "-":
            break
    return found


def _profile_optional(parser: argparse.ArgumentParser, command: str) -> None:
    """A command's required positional ``profile`` may be left out when ``--profile`` came before the command
    (`gpumigrate --profile P cost` exited 2 "the following arguments are required: profile"; inventory and
    validate, whose profile is optional, took it). Its own positional still wins (:func:`merge_top_options`)."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:  # noqa: SLF001 - argparse's own
        sub = getattr(action, "choices", {}).get(command) if isinstance(getattr(action, "choices", None), dict) else None
        if sub is None:
            continue
        for positional in sub._actions:  # noqa: SLF001
            if positional.dest == "profile" and not positional.option_strings and positional.nargs is None:
                positional.nargs = "?"
                positional.required = False


def merge_top_options(args: argparse.Namespace) -> argparse.Namespace:
    """``--session`` and ``--profile`` given before the command reach it (its own, given after it, win).
    ``--profile`` too was lost: `gpumigrate --profile P inventory` scanned without P (this host only), silently."""
    args.session = getattr(args, "session", None) or args.app_session
    args.profile = getattr(args, "profile", None) or args.app_profile
    return args


def _share_hint(filename: object) -> str:
    """The `session share` advice, only for a file under the state directory (not, say, an --out folder)."""
    from engine.session.paths import state_dir

    state = str(state_dir())
    if filename and not str(filename).startswith(state):
        return ""
    return ("; if it is another login's session, ask them to run `gpumigrate session share NAME --group GROUP` "
            "(a group you both belong to) and use the same GPUMIGRATE_STATE_DIR")


def _words(args: argparse.Namespace) -> str:
    """The command as typed, for a message: `session tail`, `catalog show`, `verify`."""
    action = getattr(args, "session_command", None) or getattr(args, "verb", None)
    return " ".join(filter(None, ("gpumigrate", args.command, action if isinstance(action, str) else None)))


def _streams(args: argparse.Namespace) -> bool:
    """Whether the command prints while it works, so a reader that goes away must stop the work (transfer,
    replay, a follower, a reverse sync: they stop as Ctrl-C would), rather than let it run to its end."""
    return (args.command in ("transfer", "replay") or getattr(args, "session_command", None) == "tail"
            or bool(getattr(args, "reverse_sync", False)))


def _owns_terminal(args: argparse.Namespace) -> bool:
    """The app (no command, attach, serve, session attach): Textual owns the terminal, stdout is left alone."""
    return args.command in (None, "attach", "serve") or getattr(args, "session_command", None) == "attach"


def main(argv: Sequence[str] | None = None) -> int:
    global _command, _usage_error
    _usage_error = None
    try:
        args = parse_args(argv)
    except SystemExit as stop:
        if stop.code == 2:
            _json_usage_summary(sys.argv[1:] if argv is None else argv)
        raise
    _command = args.command
    if _owns_terminal(args):
        return _main(args)
    from tui.output import guard_stdout

    with guard_stdout(raise_once=_streams(args)) as guard:
        code = _main(args)
        guard.flush()  # what is still buffered: the reader may have gone away after the last write
        return _output_lost(args, guard, code)


def _output_lost(args: argparse.Namespace, guard: "GuardedStdout", code: int) -> int:
    """The exit status of a command whose output was lost: never 0 for a result nobody could read in full.

    A closed pipe (``| head -1``): the reader chose to stop reading, so the status is what the command found,
    said on stderr too (unless the command said its own result there). An output that could not be written
    (``> /dev/full``, a disk that filled): exit 4 at least, since the file holds a cut result."""
    from engine.errors import EXIT_MEANING, ExitCode

    if guard.error is None or guard.stopped:
        return code
    from tui.output import lost_words

    if not isinstance(guard.error, BrokenPipeError) and code == ExitCode.OK:
        if guard.said_cut:
            return int(ExitCode.ENVIRONMENT)
        from tui.output import cut_words

        print(f"gpumigrate: {lost_words(guard.error)}: {cut_words(guard.error)}; `{_words(args)}` ran to its "
              f"end, exit {int(ExitCode.ENVIRONMENT)} (not 0)", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    if not guard.said:
        print(f"gpumigrate: {lost_words(guard.error)}; `{_words(args)}` ran to its end "
              f"(exit {code}: {EXIT_MEANING.get(code, 'see the README')})", file=sys.stderr)
    return code


def _main(args: argparse.Namespace) -> int:
    from engine.errors import ExitCode, GpumigrateError

    try:
        if args.command is None:
            from tui.app import run_app

            if args.session:
                _confirm_new_session(args.session)

            return int(run_app(profile=args.profile, session=args.session))
        return int(args.handler(args))
    except GpumigrateError as exc:
        print(f"gpumigrate: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except PermissionError as exc:  # a file of another login's: one line with the fix, never a traceback
        print(f"gpumigrate: permission denied: {exc.filename or exc}{_share_hint(exc.filename)}", file=sys.stderr)
        return int(ExitCode.ENVIRONMENT)
    except KeyboardInterrupt:  # "run the same command again to resume" only where that is true (a transfer)
        from tui.interrupted import interrupted_words

        print(f"gpumigrate: interrupted; {interrupted_words(args)}", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except OSError as exc:
        from tui.output import current_guard

        guard = current_guard()
        if guard is None or guard.error is None:
            raise
        guard.stopped = True
        # A command that prints while it works met a closed output, and nothing in it stopped the work as
        # Ctrl-C would: it stopped at that line, its result unknown. Never 0 (it was, for any command).
        from tui.output import lost_words

        print(f"gpumigrate: {lost_words(exc)} while `{_words(args)}` was printing; it stopped there, its result "
              f"not known (exit {int(ExitCode.INTERRUPTED)})", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


def entry() -> None:
    """The console script: :func:`main`, then the exit (see ``FAST_EXIT``). A command that ends
    this way starts without garbage collection until its clients are built (:mod:`tui.startup`)."""
    if command_named(sys.argv[1:]) in FAST_EXIT:
        from tui import startup

        startup.begin()
    rc = main()
    if _command in FAST_EXIT:
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:  # None: that fd was closed when Python started (`>&-`)
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(rc)
    sys.exit(rc)


def _confirm_new_session(name: str) -> None:
    """``--session typo`` must not quietly create an empty session and make you its driver."""
    from engine.errors import BadInputError
    from engine.session import list_sessions, session_path

    if session_path(name).exists():
        return
    known = ", ".join(list_sessions()) or "none yet"
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInputError(f"no session named {name!r} (sessions: {known}); start one with "
                            f"`gpumigrate replay PROFILE --session {name}`, or run this in a terminal to be asked")
    answer = input(f"There is no session named {name!r} (sessions: {known}). Create it? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise BadInputError(f"no session named {name!r}: nothing was created")


if __name__ == "__main__":
    entry()
