"""Which key or table a profile gives twice, and where it was first given.

tomllib says only "Cannot overwrite a value (column 17)" or "Cannot declare ('source',) twice": a profile with
`provider` set twice, or `[transfer]` then `[[transfer]]`, got a line and no field. This reads the lines as
written (headers and `key =` lines; best effort, inside multi-line strings too) to name the field, its first
line and what to do; when it cannot tell, the caller keeps tomllib's words.
"""

from __future__ import annotations

import re

_ARRAY = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _name(raw: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", raw))


def _header(line: str) -> tuple[str, str] | None:
    """("array" or "table", its dotted name) for a header line."""
    match = _ARRAY.match(line)
    if match:
        return "array", _name(match.group(1))
    match = _TABLE.match(line)
    return ("table", _name(match.group(1))) if match else None


def explain_redefinition(text: str, line_no: int) -> str | None:
    """``field: what is wrong (first at line M ...); what to do`` for the key or header at ``line_no``, or None."""
    lines = text.split("\n")
    if not 1 <= line_no <= len(lines):
        return None
    here = lines[line_no - 1]
    blocks: list[tuple[int, str, str]] = [(0, "table", "")]  # (line, kind, name) of each header before line_no
    for n, line in enumerate(lines[: line_no - 1], start=1):
        head = _header(line)
        if head:
            blocks.append((n, *head))
    head = _header(here)
    if head:
        kind, name = head
        for n, first_kind, first in reversed(blocks[1:]):
            if first == name:
                return _twice_header(name, kind, first_kind, n, lines[n - 1].strip())
        first_key = _key_line(lines, blocks, name)
        if first_key:
            return (f"{name}: a value of that name was set at line {first_key} (`{lines[first_key - 1].strip()}`); "
                    f"a table cannot have the same name: keep one of them")
        return None
    match = _KEY.match(here)
    if not match:
        return None
    start, kind, table = blocks[-1]
    full = ".".join(filter(None, (table, _name(match.group(1)))))
    where = _element(blocks, table) if kind == "array" else full
    if kind == "array":
        where = f"{where}.{_name(match.group(1))}"
    for n in range(start + 1, line_no):
        other = _KEY.match(lines[n - 1])
        earlier = ".".join(filter(None, (table, _name(other.group(1))))) if other else None
        if earlier is None or not (earlier == full or full.startswith(earlier + ".") or earlier.startswith(full + ".")):
            continue
        what = "set twice" if earlier == full else f"{earlier} was already given"
        return (f"{where}: {what} (first at line {n}: `{lines[n - 1].strip()}`); TOML allows each key once, "
                "so keep one of them")
    for n, _kind, name in blocks[1:]:
        if name == full or name.startswith(full + "."):
            return (f"{where}: set here as a value, but line {n} (`{lines[n - 1].strip()}`) made it a table; "
                    "keep one of them")
    return None


def _twice_header(name: str, kind: str, first_kind: str, first_line: int, first_text: str) -> str:
    if kind == first_kind == "table":
        return (f"[{name}]: declared twice (first at line {first_line}); put all of its keys under one [{name}]")
    if first_kind == "table":
        return (f"[[{name}]]: {name} is already a single table (line {first_line}: `{first_text}`); a list of "
                f"entries is written [[{name}]] for every entry, the first one included")
    return (f"[{name}]: {name} is a list of entries ([[{name}]] at line {first_line}); write [[{name}]] for this "
            "entry too")


def _key_line(lines: list[str], blocks: list[tuple[int, str, str]], name: str) -> int | None:
    """The line where ``name`` was set as a value (`source = "aws"` before `[source]`)."""
    for (start, _kind, table), nxt in zip(blocks, [b[0] for b in blocks[1:]] + [len(lines) + 1]):
        for n in range(start + 1, nxt):
            match = _KEY.match(lines[n - 1]) if n <= len(lines) else None
            if match and ".".join(filter(None, (table, _name(match.group(1))))) == name:
                return n
    return None


def _element(blocks: list[tuple[int, str, str]], name: str) -> str:
    """``transfer[1]``: the entry of an array of tables the key sits in."""
    return f"{name}[{sum(1 for _n, kind, other in blocks if kind == 'array' and other == name) - 1}]"
