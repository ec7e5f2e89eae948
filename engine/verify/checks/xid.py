"""XID errors from the kernel log: the driver's own record of GPU faults.

NVML reports XIDs only to a process that registered an event set *before* the
fault, so a check run after the fact reads the kernel log instead, where the
driver writes every one: ``NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has
fallen off the bus.``  ``journalctl -k`` is tried first (it can be read
without root on most distributions), then ``dmesg``; neither being readable is
reported, never a pass or a fail by itself.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.verify.commands import run_command

_XID = re.compile(r"NVRM: Xid \(PCI:(?P<pci>[0-9A-Fa-f:.]+)\): (?P<code>\d+),?\s*(?P<detail>.*)$")

HARDWARE = {
    48: "double-bit ECC error", 63: "ECC page retirement / row remap event", 64: "row remap failure",
    74: "NVLink error", 79: "GPU has fallen off the bus", 92: "high single-bit ECC rate",
    94: "contained ECC error", 95: "uncontained ECC error", 119: "GSP RPC timeout", 120: "GSP error",
    121: "C2C link error", 140: "unrecovered ECC error",
}
"""XIDs that mean the hardware (or its firmware) is at fault: the GPU is not healthy."""
APPLICATION = {13: "graphics engine exception", 31: "GPU memory page fault", 43: "GPU stopped processing",
               45: "preemptive cleanup", 68: "video processor exception"}
"""XIDs usually caused by the application (a bad kernel, an out-of-bounds access): noted, not failed."""


@dataclass(frozen=True)
class XidEvent:
    pci: str
    code: int
    detail: str
    line: str

    @property
    def meaning(self) -> str:
        return HARDWARE.get(self.code) or APPLICATION.get(self.code) or "see NVIDIA's XID catalog"

    @property
    def hardware(self) -> bool:
        return self.code in HARDWARE


def parse_xids(text: str) -> list[XidEvent]:
    events = []
    for line in text.splitlines():
        match = _XID.search(line)
        if match:
            events.append(XidEvent(match.group("pci").lower(), int(match.group("code")),
                                   match.group("detail").strip(), line.strip()))
    return events


def read_kernel_log(since_hours: float, cwd: Path, cancel: threading.Event | None = None,
                    log_file: Path | None = None) -> tuple[str | None, str]:
    """(kernel log text or None, where it came from or why it could not be read)."""
    if log_file is not None:
        try:
            return log_file.read_text(encoding="utf-8", errors="replace"), str(log_file)
        except OSError as exc:
            return None, f"{log_file}: {exc.strerror or exc}"
    tries = (["journalctl", "-k", "--no-pager", "-o", "short-iso", "--since", f"-{max(1, int(since_hours * 60))}min"],
             ["dmesg", "--time-format", "iso"])
    reasons = []
    for argv in tries:
        run = run_command(argv, cwd=cwd, timeout_s=20, cancel=cancel)
        why = unreadable(argv[0], run.returncode, run.stderr)
        if why is None:
            return run.stdout, " ".join(argv[:2])
        reasons.append(why)
    return None, "; ".join(reasons)


_PARTIAL_JOURNAL = ("not seeing messages from other users", "insufficient permissions", "no journal files")
"""What journalctl prints (on stderr, exiting 0) to a user outside the adm/systemd-journal groups: it then shows
only that user's own messages, never the kernel's ("Hint: You are currently not seeing messages from other users
and the system ... -- No entries --")."""


def unreadable(program: str, returncode: int | None, stderr: str) -> str | None:
    """Why this answer is not the kernel log (None: it is).  An empty journal read without the right to see the
    kernel's messages is not "no XID"."""
    if returncode != 0:
        last = (stderr.strip().splitlines() or [f"exit {returncode}"])[-1]
        return last if last.startswith(f"{program}:") else f"{program}: {last}"
    low = stderr.lower()
    if program == "journalctl" and any(words in low for words in _PARTIAL_JOURNAL):
        return ("journalctl: this user sees only its own messages, not the kernel's (add it to the adm or "
                "systemd-journal group, or run as root)")
    return None
