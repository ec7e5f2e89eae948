"""`replay --session S --detach --foreground` asks for two opposite things: return at once while a worker runs the
steps, and run them in this process. It ran them here, exit 0 after the whole run, --detach ignored without a word
(review s8readme: the README's usage line)."""

from __future__ import annotations

from tests.conftest import REPO
from tui.cli import main


def test_detach_and_foreground_together_are_refused_before_anything_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    from engine.session.paths import list_sessions

    code = main(["replay", str(REPO / "profiles" / "demo.toml"), "--session", "both", "--detach", "--foreground",
                 "--steps", "cost"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--detach and --foreground" in err
    assert "both" not in list_sessions()
