"""XID errors read from a kernel log: hardware faults fail GPU health, application ones are noted."""

from __future__ import annotations

from engine.verify.checks import gpu_health, xid
from engine.verify.checks.base import CheckContext
from engine.verify.section import VerifySection
from tests.conftest import FIXTURES
from tests.nvml_fake import FakeNvml

LOG = FIXTURES / "verify" / "kernel_xid.log"


def test_parse_xids_from_a_kernel_log() -> None:
    events = xid.parse_xids(LOG.read_text())
    assert [(e.pci, e.code, e.hardware) for e in events] == [("0000:10:1c", 13, False), ("0000:10:1d", 79, True)]
    assert events[1].meaning == "GPU has fallen off the bus"


def _ctx(tmp_path, log: str | None) -> CheckContext:
    section = VerifySection.model_validate({"gpu": {"xid_log": log} if log else {}})
    return CheckContext(section=section, base_dir=tmp_path, nvml_api=FakeNvml.from_fixture("v100_host"),
                        target_gpu_count=1)


def test_a_hardware_xid_fails_an_otherwise_healthy_host(tmp_path) -> None:
    ctx = _ctx(tmp_path, str(LOG))
    verdict = gpu_health.judge(ctx, gpu_health.measure(ctx), None)
    assert not verdict.passed
    assert any("XID 79 on 0000:10:1d: GPU has fallen off the bus" in d for d in verdict.details)
    assert any("XID 13" in d for d in verdict.details)  # noted, not what failed it


def test_a_clean_log_passes_and_an_unreadable_one_is_only_noted(tmp_path) -> None:
    clean = tmp_path / "kern.log"
    clean.write_text("2026-11-20T03:12:44+0000 host kernel: nvidia: loading out-of-tree module\n")
    ctx = _ctx(tmp_path, str(clean))
    assert gpu_health.judge(ctx, gpu_health.measure(ctx), None).passed
    ctx = _ctx(tmp_path, str(tmp_path / "missing.log"))
    verdict = gpu_health.judge(ctx, gpu_health.measure(ctx), None)
    assert verdict.passed and any("XID errors not checked" in d for d in verdict.details)


def test_a_journal_this_user_may_not_read_is_not_an_empty_kernel_log() -> None:
    """journalctl run by a user outside adm/systemd-journal exits 0 with '-- No entries --' and this hint on stderr
    (recorded from `journalctl -p err` on Ubuntu): it was read as a kernel log with no XID (review session 6)."""
    hint = ("Hint: You are currently not seeing messages from other users and the system.\n"
            "      Users in groups 'adm', 'systemd-journal' can see all messages.\n"
            "      Pass -q to turn off this notice.\n")
    why = xid.unreadable("journalctl", 0, hint)
    assert why is not None and why.startswith("journalctl: this user sees only its own messages")
    assert xid.unreadable("journalctl", 0, "") is None
    assert xid.unreadable("dmesg", 1, "dmesg: read kernel buffer failed: Operation not permitted\n") == (
        "dmesg: read kernel buffer failed: Operation not permitted")
