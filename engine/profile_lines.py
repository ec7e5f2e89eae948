"""Where each key and array element of a TOML text is written: the line a profile error points at.

``tomllib`` gives no positions.  This scans headers (``[a.b]``, ``[[transfer]]``), ``key =`` lines and the
values after them: strings (multi-line ones included), and arrays and inline tables that span lines, whose
elements and keys get lines of their own (``inventory.aws_regions[2]``, ``cutover.runbook[3].gate``), so a
bad element of a long array is reported where it is written, not at its key.  A line inside a value
(``region = 5`` in a description) is never taken for a key.  It is deliberately forgiving: a path it did
not see falls back to the nearest known parent, then line 1.
"""

from __future__ import annotations

import re
from typing import Any

_INLINE_KEY = re.compile(r"""\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")


class KeyLines:
    """Maps dotted key paths (array elements by index) to the line that defines them."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?)\s*=""")

    def __init__(self, text: str):
        self.lines: dict[tuple[Any, ...], int] = {}
        counters: dict[tuple[Any, ...], int] = {}
        table: tuple[Any, ...] = ()
        value: _Value | None = None  # a value the previous lines left open (a string, an array, a table)
        for number, line in enumerate(text.split("\n"), start=1):  # TOML's lines (not str.splitlines')
            line = line.removesuffix("\r")
            if value is not None:
                value = value if value.feed(line, 0, number) else None
                continue
            header = self._HEADER.match(line)
            if header:
                parts = tuple(split_key(header.group(2)))
                if header.group(1) == "[[":
                    index = counters.get(parts, -1) + 1
                    counters[parts] = index
                    table = parts + (index,)
                else:
                    table = self._resolve(parts, counters)
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key and not line.lstrip().startswith("#"):
                path = table + tuple(split_key(key.group(1)))
                self.lines.setdefault(path, number)
                value = _Value(path, self.lines)
                value = value if value.feed(line, key.end(), number) else None

    @staticmethod
    def _resolve(parts: tuple[str, ...], counters: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
        # [transfer.x] after [[transfer]] refers to the latest array element.
        out: tuple[Any, ...] = ()
        for part in parts:
            out += (part,)
            if out in counters:
                out += (counters[out],)
        return out

    def line_of(self, loc: tuple[Any, ...] | list[Any], missing: bool = False) -> int:
        loc = tuple(loc)
        if missing:
            loc = loc[:-1]
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1


def split_key(dotted: str) -> list[str]:
    """``a."b.c".d`` -> ["a", "b.c", "d"]."""
    return [p.strip().strip("\"'") for p in re.findall(r"""("[^"]*"|'[^']*'|[^.]+)""", dotted)]


class _Array:
    def __init__(self, path: tuple[Any, ...]):
        self.path, self.index, self.want_value = path, 0, True


class _Table:
    def __init__(self, path: tuple[Any, ...]):
        self.path, self.key, self.want_key = path, None, True  # key: the path of the value to come


class _Value:
    """One key's value, read line by line: the line of each array element and inline-table key is recorded
    under its path; :meth:`feed` says whether the value goes on on the next line."""

    def __init__(self, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]):
        self.path, self.lines = path, lines
        self.stack: list[_Array | _Table] = []
        self.inside: str | None = None  # the multi-line string delimiter left open
        self.started = False

    def feed(self, line: str, pos: int, number: int) -> bool:
        n = len(line)
        while pos < n:
            if self.inside is not None:
                close = line.find(self.inside, pos) if self.inside == "'''" else _basic_close(line, pos)
                if close < 0:
                    return True
                pos = close + 3
                while pos < n and line[pos] == self.inside[0]:  # up to two quotes may end the string itself
                    pos += 1
                self.inside = None
                continue
            ch = line[pos]
            if ch in " \t":
                pos += 1
                continue
            if ch == "#":
                break
            top = self.stack[-1] if self.stack else None
            if top is None:
                if self.started:
                    break  # the value ended on this line; what follows is not a value
                self.started = True
                pos = self._value(self.path, line, pos, number)
            elif ch in "]}":
                self.stack.pop()
                pos += 1
            elif ch == ",":
                if isinstance(top, _Array):
                    top.index, top.want_value = top.index + 1, True
                else:
                    top.want_key = True
                pos += 1
            elif isinstance(top, _Array):
                if top.want_value:
                    top.want_value = False
                    pos = self._value(top.path + (top.index,), line, pos, number)
                else:
                    pos += 1
            elif top.want_key:
                key = _INLINE_KEY.match(line, pos)
                if key is None:
                    pos += 1
                    continue
                top.key, top.want_key = top.path + tuple(split_key(key.group(1))), False
                pos = key.end()
            elif top.key is not None:
                path, top.key = top.key, None
                pos = self._value(path, line, pos, number)
            else:
                pos += 1
        return self.inside is not None or bool(self.stack)

    def _value(self, path: tuple[Any, ...], line: str, pos: int, number: int) -> int:
        """Record where the value at ``path`` starts; return the position after its first token."""
        self.lines.setdefault(path, number)
        ch = line[pos]
        if ch == "[":
            self.stack.append(_Array(path))
            return pos + 1
        if ch == "{":
            self.stack.append(_Table(path))
            return pos + 1
        if line.startswith('"""', pos) or line.startswith("'''", pos):
            self.inside = line[pos:pos + 3]
            return pos + 3
        if ch == '"':
            pos += 1
            while pos < len(line) and line[pos] != '"':
                pos += 2 if line[pos] == "\\" else 1
            return pos + 1
        if ch == "'":
            end = line.find("'", pos + 1)
            return len(line) if end < 0 else end + 1
        while pos < len(line) and line[pos] not in ",]}# \t":  # a number, a date, true/false
            pos += 1
        return pos


def _basic_close(line: str, pos: int) -> int:
    """Where ``\"\"\"`` closes a multi-line basic string in ``line[pos:]`` (a backslash escapes), or -1."""
    while pos < len(line):
        if line[pos] == "\\":
            pos += 2
        elif line.startswith('"""', pos):
            return pos
        else:
            pos += 1
    return -1
