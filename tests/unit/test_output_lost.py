"""A command whose result could not be printed must not claim success.

`cli.main` turned any BrokenPipeError that reached it into exit 0: `gpumigrate transfer -r SRC DST | head -c 10`
exited 0 for a copy with a failed file (its summary line met the closed pipe), and a full disk (`> /dev/full`)
gave a traceback. Now the command ends with the status it found and says on stderr that its output was lost;
an output that could not be written is exit 4, never 0."""

from __future__ import annotations

import io

import pytest

from tui.cli import main


class HeadOneLine(io.TextIOBase):
    """stdout read by `| head -1`: the write holding the first newline goes through, every later one meets EPIPE."""

    def __init__(self, error: OSError | None = None):
        self.taken = ""
        self.error = error or BrokenPipeError(32, "Broken pipe")

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if "\n" in self.taken:
            raise self.error
        self.taken += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:  # stdout_to_devnull must not point the test runner's own fd 1 at /dev/null
        raise io.UnsupportedOperation("no fd")


def _failing_copy(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src).mkdir()
    (src / "a").write_text("hi\n")
    (src / "b").write_text("x\n")
    (dst / "a").mkdir(parents=True)
    (dst / "a" / "inner").write_text("y\n")  # a folder where the source has a file: that file fails
    return str(src), str(dst)


def test_a_failed_copy_whose_summary_meets_a_closed_pipe_still_exits_1(tmp_path, monkeypatch, capsys):
    src, dst = _failing_copy(tmp_path)
    out = HeadOneLine()
    monkeypatch.setattr("sys.stdout", out)
    code = main(["transfer", "-r", src, dst])
    err = capsys.readouterr().err
    assert out.taken.count("\n") >= 1  # the ✗ line was read, then the reader left
    assert code == 1, (code, err)
    assert "the output was closed; the command ran to its end: copied 1" in err and "failed 1" in err, err
    assert "(exit 1)" in err and "Traceback" not in err


def test_a_result_that_could_not_be_written_is_exit_4_not_0(tmp_path, monkeypatch, capsys):
    (tmp_path / "p.toml").write_text('[source]\nprovider = "local"\n')
    full = HeadOneLine(OSError(28, "No space left on device"))
    full.taken = "a first line\n"  # the disk filled after it
    monkeypatch.setattr("sys.stdout", full)
    code = main(["validate", str(tmp_path / "p.toml")])
    err = capsys.readouterr().err
    assert code == 4, (code, err)
    assert "could not be written (No space left on device)" in err and "cut short" in err, err


@pytest.mark.parametrize("args", [["validate", "--fields"], ["session", "list"]])
def test_a_report_with_its_output_closed_keeps_its_status_and_says_so(args, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(tmp_path / "state"))
    out = HeadOneLine()
    out.taken = "read\n"  # the reader has gone already
    monkeypatch.setattr("sys.stdout", out)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, (code, err)
    assert f"the output was closed; `gpumigrate {' '.join(args[:2]) if args[0] == 'session' else args[0]}` " \
           "ran to its end (exit 0: ok)" in err, err



def test_a_closed_stdout_is_no_traceback_and_no_success(tmp_path, monkeypatch, capsys):
    """`gpumigrate validate P >&-`: Python starts with sys.stdout None; the guard made that an AttributeError
    traceback, and `cost --json` had one before it (print_json wrote to None)."""
    (tmp_path / "p.toml").write_text('[source]\nprovider = "local"\n')
    monkeypatch.setattr("sys.stdout", None)
    code = main(["validate", str(tmp_path / "p.toml")])
    err = capsys.readouterr().err
    assert code == 4, (code, err)
    assert "the standard output is closed" in err and "nothing was written" in err, err
