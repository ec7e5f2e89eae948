"""Two runs of the same transfer at once (a second terminal, a re-run while the first is still
going) would resume the same multipart uploads from one journal: found by hand, both failed
(500 on UploadPart in one, InvalidPart on completion in the other). The second is refused at
once, naming the running one; the first finishes untouched; once it has ended, a run goes."""

from __future__ import annotations

import os
import threading

import pytest

from engine.errors import EnvironmentProblem
from engine.events import Progress
from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import MIB, read_s3, s3_client, write_local


def test_a_second_run_of_the_same_transfer_is_refused_while_the_first_runs(tmp_path, aws) -> None:
    s3_client().create_bucket(Bucket="one-run")
    data = os.urandom(11 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://one-run/d", part_threshold_mib=5, part_size_mib=5,
                        jobs=1)
    journal = tmp_path / "j.sqlite"
    refused: list[str] = []
    tried = threading.Event()

    def emit(event) -> None:  # while the first run copies: a second run of the same transfer
        if isinstance(event, Progress) and event.extra.get("phase") == "started" and not tried.is_set():
            tried.set()
            with pytest.raises(EnvironmentProblem) as err:
                run_transfer(spec, journal=journal)
            refused.append(str(err.value))

    first = run_transfer(spec, journal=journal, emit=emit)
    assert tried.is_set() and first.ok and first.copied == 1, first.failures
    assert refused and "another run of this transfer is in progress" in refused[0], refused
    assert f"pid {os.getpid()}" in refused[0] and str(journal) in refused[0]
    assert read_s3("one-run") == {"d/big.bin": data}
    assert s3_client().list_multipart_uploads(Bucket="one-run").get("Uploads") is None
    again = run_transfer(spec, journal=journal)  # the first has ended: the lock went with it
    assert again.ok and again.skipped == 1


def test_cleanup_looking_at_the_lock_does_not_refuse_a_run(tmp_path) -> None:
    """``--cleanup`` asks whether a run holds a journal by taking its lock shared for an instant;
    a run starting in that instant waits for it instead of being refused."""
    import fcntl
    import time

    from engine.transfer.journal import Journal, running

    journal = Journal(tmp_path / "j.sqlite")
    journal.hold()
    journal.close()
    assert not running(tmp_path / "j.sqlite")
    fd = os.open(f"{tmp_path / 'j.sqlite'}.lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    threading.Timer(0.1, os.close, (fd,)).start()  # what running() does, held a little longer
    run = Journal(tmp_path / "j.sqlite")
    started = time.monotonic()
    try:
        run.hold()
        assert running(tmp_path / "j.sqlite") and time.monotonic() - started >= 0.05
    finally:
        run.close()
    assert not running(tmp_path / "j.sqlite")


def test_a_run_of_the_same_transfer_journalled_elsewhere_is_refused_too(tmp_path, aws) -> None:
    """The same, with the second run journalled beside a session (`replay PROFILE` while the bare
    CLI copies the same SRC -> DST): it took no lock the first holds and ran alongside."""
    from engine.session import sessions_dir

    s3_client().create_bucket(Bucket="one-run-2")
    write_local(tmp_path / "src", {"big.bin": os.urandom(11 * MIB)})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="s3://one-run-2/d", part_threshold_mib=5, part_size_mib=5,
                        jobs=1)
    refused: list[str] = []

    def emit(event) -> None:
        if isinstance(event, Progress) and event.extra.get("phase") == "started" and not refused:
            with pytest.raises(EnvironmentProblem) as err:
                run_transfer(spec, session_path=sessions_dir() / "replay-p.sqlite")
            refused.append(str(err.value))

    first = run_transfer(spec, emit=emit)
    assert first.ok and first.copied == 1, first.failures
    assert refused and f"another run of this transfer is in progress (pid {os.getpid()}" in refused[0], refused


def test_a_run_whose_client_cannot_be_built_leaves_its_journal_closed_and_unlocked(tmp_path, monkeypatch) -> None:
    """The journal opens in a thread while the clients are built (engine.transfer.background).
    When a client cannot be built (here: no Google credentials), the run waits for the journal
    and closes it: the next run must not be refused by a lock this one left behind."""
    from engine.transfer.journal import running

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    write_local(tmp_path / "src", {"a.txt": b"x"})
    spec = TransferSpec(src=str(tmp_path / "src"), dst="gs://no-credentials/d")
    for _ in range(2):  # the second is not refused as "another run of this transfer is in progress"
        with pytest.raises(EnvironmentProblem, match="no Google credentials"):
            run_transfer(spec, journal=tmp_path / "j.sqlite")
        assert not running(tmp_path / "j.sqlite")
    assert not [t for t in threading.enumerate() if t.name == "transfer-journal"]
