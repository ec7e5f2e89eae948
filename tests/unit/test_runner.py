"""The runner: order, recording, skip-completed, resume-interrupted, exit codes."""

from __future__ import annotations

import json
import sys
import types

import pytest

from engine import runner
from engine.errors import BadInputError, ExitCode
from engine.events import Event
from engine.profile import Profile, SourceSection, TargetSection
from engine.session import SessionStore
from tests import runner_steps


def _module(fn_name: str) -> str:
    name = f"tests._step_{fn_name}"
    mod = types.ModuleType(name)
    mod.run = getattr(runner_steps, fn_name)  # type: ignore[attr-defined]
    sys.modules[name] = mod
    return name


@pytest.fixture()
def steps(monkeypatch: pytest.MonkeyPatch):
    """Register test steps in the runner's registry (the same way real steps are registered)."""
    runner_steps.CALLS.clear()
    runner_steps._interrupt_once["done"] = False

    def use(**mapping: str) -> None:
        monkeypatch.setattr(runner, "STEP_MODULES", {k: _module(v) for k, v in mapping.items()})
        monkeypatch.setattr(runner, "STEP_ORDER", tuple(mapping))

    return use


def _profile(**kw) -> Profile:
    return Profile(source=SourceSection(provider="aws"), target=TargetSection(**kw))


def test_runs_in_order_and_records_every_event(steps) -> None:
    steps(a="ok", b="reads_earlier")
    seen: list[Event] = []
    with SessionStore.open("r1") as s:
        summary = runner.run_steps(_profile(), emit=seen.append, session=s)
        kinds = [(e.step, e.kind) for e in s.events_after(0)]
    assert summary.exit_code == ExitCode.OK
    assert runner_steps.CALLS == ["a", "b"]
    assert summary.results["b"].summary == "saw ['a']"
    assert ("a", "step_started") in kinds and ("a", "progress") in kinds and ("b", "step_finished") in kinds
    assert [e.kind for e in seen] == [k for _, k in kinds]


def test_rerun_skips_completed_steps_and_reruns_after_a_profile_change(steps) -> None:
    steps(a="ok", b="ok")
    with SessionStore.open("r2") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s)
        said: list = []
        again = runner.run_steps(_profile(), emit=said.append, session=s)
        assert again.skipped == ["a", "b"] and runner_steps.CALLS == ["a", "b"]
        # replay's text output (this message) says when and how it completed, as --json does (it said only that)
        line = next(e.text for e in said if getattr(e, "text", "").startswith("a: already completed"))
        when = again.to_event_dict()["steps"]["a"]["completed_at"]
        assert line == f"a: already completed in session {s.name} at {when}: fine; skipped", line
        # the second run reports the first run's outcome and when, not only "already completed"
        entry = again.to_event_dict()["steps"]["a"]
        assert entry["skipped"] is True and entry["ok"] is True and entry["summary"].endswith(": fine")
        assert entry["summary"].startswith(f"already completed in this session at {entry['completed_at']}")
        seen: list[Event] = []
        changed = runner.run_steps(_profile(gpu_count=2), emit=seen.append, session=s)
        assert changed.skipped == [] and runner_steps.CALLS == ["a", "b", "a", "b"]
        # it says what differs from the run before, not only that something did
        assert "a: the profile changed since it completed (target.gpu_count); running again" in \
            [getattr(e, "text", "") for e in seen]


def test_interrupted_step_stops_the_run_and_resumes_next_time(steps) -> None:
    steps(a="ok", b="interrupted_once", c="ok")
    with SessionStore.open("r3") as s:
        first = runner.run_steps(_profile(), emit=lambda e: None, session=s)
        assert first.exit_code == ExitCode.INTERRUPTED
        assert s.step("b").state == "interrupted" and s.step("c") is None  # type: ignore[union-attr]
        # every step asked for is in the summary: the one the stop left out says so
        assert first.not_run == ["c"] and first.to_event_dict()["steps"]["c"]["not_run"] is True
        second = runner.run_steps(_profile(), emit=lambda e: None, session=s)
        assert second.exit_code == ExitCode.OK and second.skipped == ["a"]
        assert runner_steps.CALLS == ["a", "b", "b", "c"]


def test_failures_and_environment_problems_set_the_exit_code(steps) -> None:
    steps(a="fails", b="ok")
    assert runner.run_steps(_profile(), emit=lambda e: None).exit_code == ExitCode.FAILED
    steps(a="fails", b="needs_credentials")
    summary = runner.run_steps(_profile(), emit=lambda e: None)
    assert summary.exit_code == ExitCode.ENVIRONMENT
    assert "AWS_PROFILE" in summary.results["b"].summary
    assert summary.to_event_dict()["ok"] is False


def test_dry_run_records_nothing_as_completed(steps) -> None:
    steps(a="ok")
    with SessionStore.open("r4") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s, dry_run=True)
        assert s.step("a") is None


def test_unknown_steps_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown step"):
        runner.resolve_steps(["inventory", "teleport"])
    assert runner.resolve_steps(["verify", "cost"]) == ["cost", "verify"]


def test_a_misspelt_step_names_its_option_and_its_near_match(capsys) -> None:
    """`replay P --steps inventory,verfy` said "unknown step(s): verfy": not which option, not what was meant."""
    from tests.conftest import REPO
    from tui.cli import main

    assert main(["replay", str(REPO / "profiles" / "demo.toml"), "--steps", "inventory,verfy", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--steps: unknown step(s): verfy (verfy: did you mean verify?)" in err, err


def test_an_unexpected_exception_fails_the_step_instead_of_leaving_it_running(steps) -> None:
    steps(a="crashes", b="ok")
    with SessionStore.open("r5") as s:
        summary = runner.run_steps(_profile(), emit=lambda e: None, session=s)
        assert s.step("a").state == "failed"  # type: ignore[union-attr]
        assert any(e.kind == "message" and "Traceback" in e.payload["text"] for e in s.events_after(0))
    assert summary.exit_code == ExitCode.FAILED
    assert "No space left on device" in summary.results["a"].summary
    assert runner_steps.CALLS == ["a", "b"]  # later steps still run, as after any failed step


def test_replay_json_summary_is_redacted_like_every_event(steps, tmp_path, monkeypatch, capsys) -> None:
    """The step's own events were redacted, but the summary line that ends `--json` printed the step's summary
    (an unexpected error quoting the environment's credential) as it was."""
    from tui.cli import main

    secret = "q8Zr-41kVv0pLm77Xc2N"
    monkeypatch.setenv("DEPLOY_TOKEN", secret)
    steps(a="echoes_a_credential")
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    code = main(["replay", str(profile), "--json"])
    out = capsys.readouterr()
    assert code == int(ExitCode.FAILED)
    assert secret not in out.out and secret not in out.err
    assert "[redacted: a credential of this environment]" in out.out.splitlines()[-1]


def test_a_step_completed_by_another_version_is_kept_and_says_so(steps) -> None:
    """The same profile, another gpumigrate: the completed step was skipped without a word."""
    steps(a="ok")
    with SessionStore.open("r6") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s)
        record = s.step("a")
        assert record is not None and record.result["tool_version"] == runner.tool_version()
        s.set_step("a", "completed", result={**record.result, "tool_version": "0.0.1"},
                   profile_digest=record.profile_digest)
        seen: list[Event] = []
        again = runner.run_steps(_profile(), emit=seen.append, session=s)
    assert again.skipped == ["a"] and again.to_event_dict()["steps"]["a"]["tool_version"] == "0.0.1"
    assert f"a: completed by gpumigrate 0.0.1; this is {runner.tool_version()}: its result is kept, not redone " \
        "(a new --session runs it again)" in [getattr(e, "text", "") for e in seen]


def test_again_runs_a_completed_step_in_the_same_session(steps) -> None:
    """A final transfer after the source changed, in the session that holds the runbook: there was no way to run a
    completed step again on the same profile."""
    steps(a="ok", b="ok")
    with SessionStore.open("r7") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s)
        again = runner.run_steps(_profile(), emit=lambda e: None, session=s, options={"again": ["b"]})
        assert s.step("b").attempt == 2  # type: ignore[union-attr]
    assert again.skipped == ["a"] and runner_steps.CALLS == ["a", "b", "b"]


def test_again_is_checked_on_the_command_line(tmp_path) -> None:
    from tui.cli import main

    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile), "--again", "transfer"]) == int(ExitCode.BAD_INPUT)  # no session
    assert main(["replay", str(profile), "--session", "x", "--steps", "cost", "--again", "transfer"]) == \
        int(ExitCode.BAD_INPUT)
    assert main(["replay", str(profile), "--session", "x", "--again", ""]) == int(ExitCode.BAD_INPUT)


def test_an_interrupted_replay_without_a_session_names_the_command_that_resumes_it(steps, tmp_path, capsys) -> None:
    """"Run the same command again to resume" made a new session of its own, redoing every completed step."""
    import shlex

    from tui.cli import main

    steps(a="ok", b="interrupted_once")
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile), "--json"]) == int(ExitCode.INTERRUPTED)
    out = capsys.readouterr()
    resume = json.loads(out.out.splitlines()[-1])["resume"]
    assert f"`{resume}` resumes it" in out.err and "--session replay-p-" in resume
    assert main(shlex.split(resume)[1:]) == int(ExitCode.OK)
    assert runner_steps.CALLS == ["a", "b", "b"]  # a completed: skipped; b resumed


def test_an_interrupted_steps_words_leave_how_to_resume_to_the_front_end(steps, tmp_path, capsys) -> None:
    """Review s7: the step's own line said "run the same command again to resume" and the next line, from replay,
    the command with its session that resumes (the same command makes a new session): the step's words are
    neutral, and replay alone says how to resume."""
    from tui.cli import main

    steps(a="ok", b="cancels_itself")
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile)]) == int(ExitCode.INTERRUPTED)
    out = capsys.readouterr()
    said, err = " ".join(out.out.split()), " ".join(out.err.split())  # the console wraps long lines
    assert "b was cancelled before it finished; recorded as interrupted; a resume runs it again" in said, said
    assert "same command again" not in said + err, out
    assert "--session replay-p-" in err and "resumes it" in err, err


@pytest.mark.parametrize("step, words", [
    ("verify", "verify runs again from its start"),
    ("transfer", "transfer goes on from its journal"),
])
def test_the_resume_line_says_what_the_interrupted_step_does_when_resumed(steps, tmp_path, capsys, step,
                                                                          words) -> None:
    """replay's resume line said "the interrupted one goes on from its journal" for every step: only a transfer
    keeps one; verify (and every other step) runs again from its start."""
    from tui.cli import main

    steps(**{"inventory": "ok", step: "interrupted_once"})
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile)]) == int(ExitCode.INTERRUPTED)
    err = " ".join(capsys.readouterr().err.split())
    assert f"(the steps completed are skipped; {words}" in err, err
    assert step == "transfer" or "journal" not in err, err


def test_a_failed_replay_without_a_session_names_the_command_that_runs_the_failed_step_again(steps, tmp_path,
                                                                                          capsys) -> None:
    """A failed transfer's line said "then run the same command again": without --session that made a new session
    and redid every completed step. The step says what to fix; replay names the command that runs it again."""
    import shlex

    from tui.cli import main

    steps(a="ok", b="fails")
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile)]) == int(ExitCode.FAILED)
    err = " ".join(capsys.readouterr().err.split())
    assert "runs b again (the steps completed are skipped)" in err and "--session replay-p-" in err, err
    again = err.split("`")[1]
    assert main(shlex.split(again)[1:]) == int(ExitCode.FAILED)
    assert runner_steps.CALLS == ["a", "b", "b"]  # a completed: skipped; b run again


def test_a_session_keeps_the_run_options_a_resume_needs(steps) -> None:
    """`session resume` started the worker without --allow-price-fallback: an interrupted cost step was run again
    without the fallback its first attempt had used."""
    steps(a="ok")
    with SessionStore.open("r8") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s,
                         options={"allow_price_fallback": True, "again": ["a"]})
        assert runner.resume_options(s) == {"allow_price_fallback": True}  # never --again: a resume redoes nothing
        runner.run_steps(_profile(), emit=lambda e: None, session=s)
        assert runner.resume_options(s) == {}


def test_ctrl_c_between_two_steps_ends_like_an_interruption(steps, tmp_path, capsys) -> None:
    """Ctrl-C outside a step went up to the CLI's generic line: no --json summary, and "run the same command
    again" for a replay whose session is its own (a new one each time)."""
    from tui.cli import main

    steps(a="ok", b="ok")
    sys.modules[runner.STEP_MODULES["a"]].outdated = runner_steps.outdated  # type: ignore[attr-defined]
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["replay", str(profile), "--json", "--steps", "a"]) == 0
    runner_steps._interrupt_once["between"] = True  # the next run: Ctrl-C as the runner looks at a completed step
    try:
        session = json.loads(capsys.readouterr().out.splitlines()[-1])["session"]
        assert main(["replay", str(profile), "--json", "--session", session, "--foreground"]) == 3
    finally:
        runner_steps._interrupt_once.pop("between", None)
        runner_steps._interrupt_once.pop("between_done", None)
    out = capsys.readouterr()
    summary = json.loads(out.out.splitlines()[-1])
    assert summary["event"] == "summary" and summary["exit_code"] == 3 and summary["steps"]["b"]["not_run"] is True
    assert f"--session {session} --foreground" in summary["resume"] and "resumes it" in out.err


def test_a_verification_kept_from_before_a_transfer_run_again_says_it_does_not_cover_the_new_copy(steps) -> None:
    """Review s7: `replay --session S --again transfer` copied again (the final pass in the cutover window) and then
    showed verify 'already completed …: PASS; skipped' with no word that this PASS predates the copy just made."""
    steps(transfer="ok", verify="ok")
    with SessionStore.open("again-stale") as s:
        runner.run_steps(_profile(), emit=lambda e: None, session=s)
        said: list = []
        runner.run_steps(_profile(), emit=said.append, session=s, options={"again": ["transfer"]})
        texts = [getattr(e, "text", "") for e in said if getattr(e, "level", "") == "warning"]
        assert any(t.startswith("verify: its result is from before the transfer this run did") and
                   "--again transfer,verify" in t for t in texts), texts
        quiet: list = []
        runner.run_steps(_profile(), emit=quiet.append, session=s)  # nothing ran: nothing to warn about
        assert not [e for e in quiet if getattr(e, "level", "") == "warning"]
