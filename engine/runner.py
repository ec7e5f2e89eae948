"""Runs a profile's steps in order (``replay``), recording them in a session.

Each step is a plain engine function ``run(ctx) -> StepResult`` in its own
module, registered in :data:`STEP_MODULES`.  Steps report progress through
``ctx.emit``; the runner adds step start/finish events, records everything in
the session store and decides what to skip on a re-run: a step already
completed for the same profile is skipped, an interrupted one runs again: a
transfer goes on from its journal, every other step from its start
(:func:`on_resume`).
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.errors import RESUMES, ExitCode, GpumigrateError, Interrupted
from engine.events import Emit, Event, Message, StepFinished, StepStarted
from engine.profile import Profile, dump_profile
from engine.session import SessionStore

STEP_ORDER: tuple[str, ...] = ("inventory", "cost", "transfer", "drivers", "verify", "ops")
"""The default order of ``replay``."""

STEP_MODULES: dict[str, str] = {
    "inventory": "engine.inventory.step",
    "cost": "engine.cost.step",
    "transfer": "engine.transfer.step",
    "drivers": "engine.drivers.step",
    "verify": "engine.verify.step",
    "ops": "engine.ops.step",
}


def step_outdated(name: str, result: dict[str, Any] | None) -> str | None:
    """Why a step completed on this same profile must run again (its module's ``outdated(data)``: the cost step's
    figures depend on prices a refresh changes), or None."""
    try:
        module = importlib.import_module(STEP_MODULES[name])
    except ModuleNotFoundError:
        return None  # load_step says so when the step is run
    check = getattr(module, "outdated", None)
    return check((result or {}).get("data")) if check is not None else None


@dataclass
class StepResult:
    """What a step hands back: did it pass, a one-line summary, and its data (JSON-able)."""

    ok: bool
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: ExitCode | None = None
    """Overrides the run's exit code when not None (e.g. ENVIRONMENT for missing credentials)."""
    state: str | None = None
    """The session state to record instead of completed/failed: "incomplete" when checks the
    profile expects did not run (the step ended, but what it had to prove is not proven)."""


RESUMES_FROM_JOURNAL = {"transfer": "goes on from its journal (what it copied is kept and skipped)"}
"""The steps that keep a journal, and what their resume does. Only a transfer keeps one (verify, drivers, ops,
inventory and cost keep none): the resume line said "goes on from its journal" for every step."""


def on_resume(step: str) -> str:
    """What ``step``, interrupted, does when the session resumes: said as the front ends' resume line."""
    return f"{step} {RESUMES_FROM_JOURNAL.get(step, 'runs again from its start')}"


@dataclass
class StepContext:
    """Everything a step may use. Steps never print; they emit."""

    profile: Profile
    step: str
    emit: Emit
    profile_path: Path | None = None
    dry_run: bool = False
    session: SessionStore | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    results: dict[str, StepResult] = field(default_factory=dict)
    """Results of the steps already run in this replay (e.g. cost reads the transfer plan)."""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Relative paths in a profile are relative to the profile's folder."""
        return self.profile_path.parent if self.profile_path else Path.cwd()

    def message(self, text: str, level: str = "info") -> None:
        self.emit(Message(self.step, text=text, level=level))  # type: ignore[arg-type]


StepFn = Callable[[StepContext], StepResult]


def profile_digest(profile: Profile, profile_path: Path | str | None = None) -> str:
    """What a completed step ran on: the profile's text and, given its file, the folder its relative paths
    resolve from. A copy of the profile in another folder (another checkout, the second person's copy) names
    other directories with the same words: its steps were reported "already completed; skipped" though
    nothing had been copied from or to its folders."""
    text = dump_profile(profile)
    if profile_path is not None:
        text += "\0" + str(Path(profile_path).resolve().parent)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


RESUMED_OPTIONS = ("allow_price_fallback",)
"""Run options a session keeps for ``gpumigrate session resume``: the run it resumes goes the same way (a cost step
interrupted under ``--allow-price-fallback`` was resumed without it and failed on the price it had used).
``again`` is not kept: a resume never redoes what completed."""


def resume_options(session: SessionStore) -> dict[str, Any]:
    """The options of the session's last run that a resume passes on (see ``RESUMED_OPTIONS``)."""
    import json

    try:
        kept = json.loads(session.get_meta("run_options") or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in kept.items() if k in RESUMED_OPTIONS} if isinstance(kept, dict) else {}


def tool_version() -> str:
    """This gpumigrate's version (recorded with each step a session completes), or "unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gpumigrate")
    except PackageNotFoundError:
        return "unknown"


def changed_fields(before: Any, after: Any, path: str = "") -> list[str]:
    """The profile fields that differ between two parsed profiles (``transfer[0].dst``, ``target.zone``); a
    section one side leaves out (all defaults) counts as empty."""
    if isinstance(before, dict) and after is None:
        after = {}
    if isinstance(after, dict) and before is None:
        before = {}
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in [*before, *(k for k in after if k not in before)]:
            out += changed_fields(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) and \
            any(isinstance(v, dict) for v in before + after):
        return [f for i, (b, a) in enumerate(zip(before, after)) for f in changed_fields(b, a, f"{path}[{i}]")]
    return [] if before == after else [path or "(the whole profile)"]


def _what_changed(earlier_toml: str | None, profile: Profile) -> str:
    """" (transfer[0].dst, target.zone)": what differs from the profile the session last ran, or ""."""
    import tomllib

    if not earlier_toml:
        return ""
    try:
        fields = changed_fields(tomllib.loads(earlier_toml), tomllib.loads(dump_profile(profile)))
    except tomllib.TOMLDecodeError:
        return ""
    if not fields:
        return ""
    more = f" and {len(fields) - 6} more" if len(fields) > 6 else ""
    return f" ({', '.join(fields[:6])}{more})"


def resolve_steps(names: list[str] | None, option: str | None = None) -> list[str]:
    """Validate a ``--steps`` list; keeps the canonical order. ``option`` names the flag the list came from, and
    a misspelt step is answered with its near match (`--steps: unknown step(s): verfy (verfy: did you mean
    verify?)`)."""
    from engine.errors import refuse_unknown

    if not names:
        return list(STEP_ORDER)
    refuse_unknown(names, list(STEP_ORDER), "step", option)
    return [n for n in STEP_ORDER if n in names]


def load_step(name: str) -> StepFn:
    try:
        module = importlib.import_module(STEP_MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name != STEP_MODULES[name]:
            raise
        raise GpumigrateError(f"the {name} step is not available in this build ({STEP_MODULES[name]})") from None
    return module.run  # type: ignore[no-any-return]


@dataclass
class RunSummary:
    results: dict[str, StepResult]
    skipped: list[str]
    exit_code: ExitCode
    earlier: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per skipped step, how it ended when it completed (``summary``, ``completed_at``): a second run reports the
    first run's outcome, not only "already completed"."""
    not_run: list[str] = field(default_factory=list)
    """Steps asked for that never started because the run stopped first (interrupted)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    def to_event_dict(self) -> dict[str, Any]:
        steps: dict[str, Any] = {n: {"ok": r.ok, "summary": r.summary} for n, r in self.results.items()}
        for name in self.skipped:
            steps[name] = skipped_entry(self.earlier.get(name, {}))
        for name in self.not_run:
            steps[name] = {"ok": False, "summary": "not run: the run stopped before this step", "not_run": True}
        return {"event": "summary", "steps": steps, "ok": self.ok, "exit_code": int(self.exit_code)}


def skipped_entry(earlier: dict[str, Any]) -> dict[str, Any]:
    """A skipped step's summary entry: that it was skipped, when it completed and how (its own summary then)."""
    import time

    entry: dict[str, Any] = {"ok": True, "summary": "already completed in this session", "skipped": True}
    when = earlier.get("completed_at")
    if isinstance(when, (int, float)):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        entry["completed_at"] = stamp
        entry["summary"] += f" at {stamp}"
    if earlier.get("summary"):
        entry["summary"] += f": {earlier['summary']}"
    if earlier.get("tool_version"):
        entry["tool_version"] = earlier["tool_version"]
    return entry


def run_steps(
    profile: Profile,
    steps: list[str] | None = None,
    *,
    emit: Emit,
    profile_path: Path | None = None,
    dry_run: bool = False,
    session: SessionStore | None = None,
    cancel: threading.Event | None = None,
    options: dict[str, Any] | None = None,
    detached: bool = False,
    log_path: str | None = None,
    on_tick: Callable[[SessionStore], None] | None = None,
) -> RunSummary:
    """Run the named steps in order; never raises for a step's own failure.

    With a session (and not a dry run) the process holds the session's run lease
    for the duration (see :mod:`engine.cutover.runlease`): another runner is
    refused, a cancel request from the driver sets ``cancel``, and if this
    process dies the step it was running shows as interrupted.
    """
    names = resolve_steps(steps)
    cancel = cancel or threading.Event()
    if session is None or dry_run:
        return _run_steps(profile, names, emit=emit, profile_path=profile_path, dry_run=dry_run,
                          session=session, cancel=cancel, options=options)
    from engine.cutover.runlease import RunLease
    from engine.cutover.steering import check_steer
    from engine.transfer.control import TransferControl

    if session.active_run() is None:  # a live run: begin_run refuses with whose and where (exit 4)
        check_steer(session, "starting steps")  # one drives: an approver or another login does not start runs

    # A pausable control for the steps that can pause (transfer); the run lease passes the
    # session's pause requests to it, so a watcher or another terminal can pause a worker.
    options = dict(options or {})
    control = options.setdefault("control", TransferControl(cancel))
    with RunLease(session, names, profile.cutover.lease_ttl_s, cancel, detached=detached,
                  log_path=log_path, on_tick=on_tick, control=control) as lease:
        summary = _run_steps(profile, names, emit=emit, profile_path=profile_path, dry_run=dry_run,
                             session=session, cancel=cancel, options=options)
        lease.exit_code = int(summary.exit_code)
    return summary


def _run_steps(
    profile: Profile,
    names: list[str],
    *,
    emit: Emit,
    profile_path: Path | None,
    dry_run: bool,
    session: SessionStore | None,
    cancel: threading.Event,
    options: dict[str, Any] | None,
) -> RunSummary:
    digest = profile_digest(profile, profile_path)
    results: dict[str, StepResult] = {}
    skipped: list[str] = []
    earlier: dict[str, dict[str, Any]] = {}
    exit_code = ExitCode.OK
    version = tool_version()
    again = set((options or {}).get("again") or ())
    """Steps to run even though this session completed them on this profile (``replay --again``): a final pass
    after the source changed, kept in the session that holds the runbook and the approvals."""

    def sink(event: Event) -> None:
        if session is not None:
            session.record(event)
        emit(event)

    earlier_path = session.get_meta("profile_path") if session is not None else None
    moved = earlier_path is not None and profile_path is not None and \
        Path(earlier_path).resolve().parent != Path(profile_path).resolve().parent
    text_only = profile_digest(profile)  # what sessions recorded before the folder was part of the digest
    changes = _what_changed(session.get_meta("profile_toml") if session is not None else None, profile)

    def ran_on_this(recorded: str | None) -> bool:
        return recorded == digest or (recorded == text_only and not moved)

    if session is not None and (not dry_run or session.get_meta("profile_toml") is None):
        # A dry run (it holds no run lease and may run beside the driver's run) records the profile
        # only in a session that has none yet, for whoever attaches; it never says who may approve,
        # and never replaces the profile that `session resume` runs again.
        session.set_meta("profile_toml", dump_profile(profile))
        if not dry_run:
            import json

            session.set_shared_account(profile.cutover.shared_account)
            session.set_meta("run_options", json.dumps({k: v for k, v in (options or {}).items()
                                                        if k in RESUMED_OPTIONS}))
        if profile_path:
            session.set_meta("profile_path", str(profile_path))

    for name in names:
        if session is not None:
            previous = session.step(name)
            outdated = step_outdated(name, previous.result) \
                if previous and previous.state == "completed" and ran_on_this(previous.profile_digest) else None
            if outdated:
                sink(Message(name, text=f"{name}: {outdated}; running again", level="warning"))
            elif previous and previous.state == "completed" and ran_on_this(previous.profile_digest) and name in again:
                sink(Message(name, text=f"{name}: completed in session {session.name}; running again, as --again asks",
                             level="info"))
            elif previous and previous.state == "completed" and ran_on_this(previous.profile_digest) and not dry_run:
                skipped.append(name)
                earlier[name] = {"summary": (previous.result or {}).get("summary", ""),
                                 "completed_at": previous.finished_at,
                                 "tool_version": (previous.result or {}).get("tool_version")}
                then = earlier[name]["tool_version"]
                if then and then != version:  # the same profile, another tool: its result stands, and says so
                    sink(Message(name, text=f"{name}: completed by gpumigrate {then}; this is {version}: its result "
                                            "is kept, not redone (a new --session runs it again)", level="warning"))
                if previous.result:  # later steps may read it (e.g. cost reads the transfer plan)
                    results[name] = StepResult(ok=True, summary=previous.result.get("summary", ""),
                                               data=previous.result.get("data", {}))
                # when it completed and how, as the --json summary says (it said only "already completed")
                then_line = skipped_entry(earlier[name])["summary"].replace("in this session",
                                                                            f"in session {session.name}", 1)
                sink(Message(name, text=f"{name}: {then_line}; skipped", level="info"))
                if name == "verify" and "transfer" in results and "transfer" not in skipped:
                    # `--again transfer` (the final pass) copied again; the PASS kept is of the copy before it
                    sink(Message(name, text="verify: its result is from before the transfer this run did, so it "
                                            "does not cover the new copy; `--again transfer,verify` verifies it",
                                 level="warning"))
                continue
            if previous and previous.state == "completed" and not ran_on_this(previous.profile_digest):
                why = (f"completed with the profile in {Path(earlier_path).resolve().parent}; it is now read from "
                       f"{Path(profile_path).resolve().parent}, where its relative paths name other folders"
                       if moved and profile_path is not None and earlier_path else
                       f"the profile changed since it completed{changes}")
                sink(Message(name, text=f"{name}: {why}; running again", level="warning"))
        if cancel.is_set():
            exit_code = ExitCode.INTERRUPTED
            break
        recorded = session is not None and not dry_run
        ctx = StepContext(profile=profile, step=name, emit=sink, profile_path=profile_path,
                          dry_run=dry_run, session=session, cancel=cancel, results=results,
                          options=dict(options or {}))
        if session is not None and not dry_run:
            session.set_step(name, "running", profile_digest=digest)
        sink(StepStarted(name, description=f"{name}{' (dry run)' if dry_run else ''}"))
        try:
            result = load_step(name)(ctx)
            if cancel.is_set() and not dry_run:
                # Cancelled while it ran: whatever it returned, it may not have run to its end
                # (verify stops between checks, drivers between files). Never "completed".
                raise Interrupted(f"{name} was cancelled before it finished" + (f"; {RESUMES}" if recorded else ""))
        except (Interrupted, KeyboardInterrupt) as exc:
            # Neutral words: how to resume is the front end's to say (a replay without --session names its command,
            # the app its key); "run the same command again" was false for a replay that makes a new session each time
            # Without a session nothing records it here (the app keeps its own note; `verify` without --session
            # keeps none), so "recorded as interrupted; a resume runs it again" is said only with one.
            text = str(exc) or ("interrupted" + (f"; {RESUMES}" if recorded else " before it finished"))
            if session is not None and not dry_run:
                session.set_step(name, "interrupted")
            sink(StepFinished(name, ok=False, summary=text, result={"interrupted": True}))
            results[name] = StepResult(ok=False, summary=text, state="interrupted")
            exit_code = ExitCode.INTERRUPTED
            break
        except GpumigrateError as exc:
            result = StepResult(ok=False, summary=str(exc), exit_code=exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - a bug or an unexpected library error must not leave
            # the step "running" for ever: record it as failed, with the traceback for whoever debugs it.
            import traceback

            sink(Message(name, text="".join(traceback.format_exception(exc)), level="debug"))
            result = StepResult(ok=False, summary=f"unexpected error: {type(exc).__name__}: {exc}")
        results[name] = result
        if session is not None and not dry_run:
            session.set_step(name, result.state or ("completed" if result.ok else "failed"),
                             result={"summary": result.summary, "data": result.data, "tool_version": version},
                             profile_digest=digest)
        sink(StepFinished(name, ok=result.ok, summary=result.summary, result=result.data))
        if not result.ok:
            code = result.exit_code or ExitCode.FAILED
            if exit_code == ExitCode.OK or code == ExitCode.ENVIRONMENT:
                exit_code = code
    for name in skipped:
        results.pop(name, None)
    not_run = [n for n in names if n not in results and n not in skipped]
    return RunSummary(results=results, skipped=skipped, exit_code=exit_code, earlier=earlier, not_run=not_run)
