"""What a check command printed, made safe for a report every tool can read.

Commands print colour codes (coloured logs), carriage-return progress bars
(tqdm) and sometimes raw control bytes.  XML 1.0 forbids most control
characters outright: one ``\\x1b`` in a JUnit file and CI cannot parse it.
:func:`readable` gives the text a terminal would have shown (ANSI sequences
removed, each ``\\r``-overwritten line reduced to what was left on screen) and
:func:`xml_safe` replaces whatever XML 1.0 still forbids with a visible
``\\xNN`` escape.  The raw bytes are kept in a file beside the report.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-byte ESC sequences; also the
# 8-bit CSI (0x9b) some programs emit.
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Not allowed anywhere in an XML 1.0 document: C0 controls but tab/LF/CR, lone surrogates, FFFE/FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_C1 = re.compile("[\x7f-\x9f]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _last_overwrite(line: str) -> str:
    """A line rewritten with ``\\r`` (a progress bar) shows only its last version."""
    if "\r" not in line:
        return line
    parts = [p for p in line.split("\r") if p]
    return parts[-1] if parts else ""


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def readable(text: str) -> str:
    """The text as a terminal would have left it, with every remaining control byte made visible."""
    text = strip_ansi(text or "").replace("\r\n", "\n")
    text = "\n".join(_last_overwrite(line) for line in text.split("\n"))
    return xml_safe(_C1.sub(_escape, text))


def xml_safe(text: str) -> str:
    """Replace what XML 1.0 forbids (so ElementTree's output always parses)."""
    return _XML_FORBIDDEN.sub(_escape, text or "")
