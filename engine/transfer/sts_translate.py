"""Translate the profile's path regexes into Storage Transfer Service prefixes.

The local engine filters with regular expressions on the path relative to the
source root (``-x REGEX``, as ``gsutil rsync`` does).  Storage Transfer Service
only knows literal prefixes (``ObjectConditions.include_prefixes`` /
``exclude_prefixes``), evaluated relative to the source folder, with no
wildcards (https://cloud.google.com/storage-transfer/docs/filtering-objects-from-transfers).

A regex is translated only when it selects *exactly* the set of paths that a
finite list of prefixes selects; anything else is refused with the reason, so
an STS job never copies (or deletes) a different set of objects than the local
engine would.  Accepted forms, with ``re.search`` semantics:

* ``^data/raw/``            -> ``data/raw/``
* ``^logs/.*``, ``^logs/.*$`` -> ``logs/``
* ``^(tmp|cache)/``          -> ``tmp/``, ``cache/``   (alternatives of literals)
* ``^a/|^b/``                -> ``a/``, ``b/``
* escaped metacharacters, e.g. ``^v1\\.0/`` -> ``v1.0/``

Refused: no ``^`` anchor (matches anywhere), ``.`` / classes / quantifiers
before the end, ``$`` right after a literal (one exact key, not a prefix),
inline flags such as ``(?i)``, and patterns that match every path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import BadInputError

MAX_PREFIXES = 1000
"""STS accepts at most 1000 include and 1000 exclude prefixes."""
MAX_PREFIX_BYTES = 1024
"""Each prefix is at most 1024 bytes in UTF-8."""

_META = set(".^$*+?{}[]\\|()")


class PrefixRefused(BadInputError):
    """A path regex that Storage Transfer Service prefixes cannot express."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason
        super().__init__(
            f"exclude/include pattern '{pattern}' cannot run on Storage Transfer Service: {reason}. "
            "STS filters by literal path prefixes only; rewrite it as '^prefix/' (optionally "
            "followed by '.*'), or use engine = \"local\" for this entry"
        )


class _Parser:
    """A recursive-descent reader for the prefix-shaped subset of Python regexes."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def refuse(self, reason: str) -> PrefixRefused:
        return PrefixRefused(self.pattern, reason)

    def peek(self, n: int = 1) -> str:
        return self.pattern[self.pos : self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.pattern)

    # branch := anchor seq tail
    def branch(self, top_level: bool) -> list[str]:
        if top_level:
            if self.peek() == "^":
                self.pos += 1
            elif self.peek(2) == "\\A":
                self.pos += 2
            elif self.peek(2) == ".*":
                raise self.refuse(
                    "it is not anchored with '^': a pattern starting with '.*' matches anywhere "
                    "(e.g. a file suffix), which no list of prefixes can express"
                )
            elif self.peek(2) == "(?" and self.peek(3) not in ("(?:", "(?P"):
                raise self.refuse("inline flags and look-arounds (like (?i) or (?!...)) cannot be expressed as prefixes")
            else:
                raise self.refuse(
                    "it is not anchored with '^', so it matches anywhere in the path, not only at the start"
                )
        prefixes = self.sequence()
        if top_level:
            self.tail()
        return prefixes

    def tail(self) -> None:
        """What may follow the literal part of a top-level branch: nothing, '.*', '.*$'."""
        if self.at_end() or self.peek() == "|":
            return
        if self.peek(2) == ".*":
            self.pos += 2
            if self.peek() == "?":  # lazy '.*?' is still '.*'
                self.pos += 1
            if self.peek() == "$":
                self.pos += 1
            elif self.peek(2) == "\\Z":
                self.pos += 2
            if self.at_end() or self.peek() == "|":
                return
            raise self.refuse("'.*' is followed by more pattern, which is a wildcard in the middle of the path")
        char = self.peek()
        if char in ("$",) or self.peek(2) == "\\Z":
            raise self.refuse("it ends with '$', so it matches one exact path, not everything under a prefix")
        if char == ".":
            raise self.refuse("'.' matches any character (write '\\.' for a literal dot)")
        if char == "[" or (char == "\\" and self.peek(2)[1:].isalnum()):
            raise self.refuse("a character class (like [..], \\d or \\w) is not a literal prefix")
        if char in "*+?{":
            raise self.refuse(f"the quantifier {char!r} makes the prefix optional or repeated")
        raise self.refuse(f"unexpected {char!r} at position {self.pos}")

    # seq := (literal | group)*   returns the expansions
    def sequence(self) -> list[str]:
        results = [""]
        while not self.at_end():
            char = self.peek()
            if char in "|)":
                break
            if char == "(":
                options = self.group()
            elif char == "\\":
                nxt = self.peek(2)[1:]
                if not nxt:
                    raise self.refuse("it ends with a lone backslash")
                if nxt.isalnum() or nxt == "_":
                    if nxt in "AZ":
                        break  # anchors, handled by the caller
                    break  # \d, \w, \s ... : let tail() explain
                self.pos += 2
                options = [nxt]
            elif char in _META:
                break  # '.', '[', '$', quantifiers: tail() decides
            else:
                self.pos += 1
                options = [char]
            if self.peek() and self.peek() in "*+?{":
                raise self.refuse(f"the quantifier {self.peek()!r} after {options[0] if len(options) == 1 else 'a group'!r} makes part of the prefix optional or repeated")
            results = [r + o for r in results for o in options]
            if len(results) > MAX_PREFIXES:
                raise self.refuse(f"it expands to more than {MAX_PREFIXES} prefixes (the STS limit)")
        return results

    # group := '(' ('?:' | '?P<name>')? alt ')'
    def group(self) -> list[str]:
        self.pos += 1
        if self.peek() == "?":
            if self.peek(2) == "?:":
                self.pos += 2
            elif self.peek(3) == "?P<":
                end = self.pattern.find(">", self.pos)
                if end < 0:
                    raise self.refuse("an unterminated group name")
                self.pos = end + 1
            else:
                raise self.refuse(
                    "inline flags and look-arounds (like (?i) or (?!...)) cannot be expressed as prefixes"
                )
        options: list[str] = []
        while True:
            options.extend(self.sequence())
            if self.peek() == "|":
                self.pos += 1
                continue
            if self.peek() == ")":
                self.pos += 1
                return options
            if self.at_end():
                raise self.refuse("an unbalanced '('")
            raise self.refuse("a group may only hold literal alternatives (like (tmp|cache)/), not wildcards")


def regex_to_prefixes(pattern: str) -> list[str]:
    """The literal prefixes that select exactly what ``re.search(pattern, path)`` selects.

    Raises :class:`PrefixRefused` (a ``BadInputError``) with the reason when the
    regex cannot be expressed as prefixes.
    """
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise PrefixRefused(pattern, f"it is not a valid regular expression ({exc})") from None
    parser = _Parser(pattern)
    prefixes: list[str] = []
    while True:
        prefixes.extend(parser.branch(top_level=True))
        if parser.at_end():
            break
        if parser.peek() == "|":
            parser.pos += 1
            continue
        if parser.peek() == ")":
            raise parser.refuse("an unbalanced ')'")
        parser.tail()  # raises with the reason
    for prefix in prefixes:
        if prefix == "":
            raise PrefixRefused(pattern, "it matches every path (an empty prefix)")
        if prefix.startswith("/"):
            raise PrefixRefused(pattern, "STS prefixes must not start with '/' (paths are relative to the source root)")
        if "\r" in prefix or "\n" in prefix:
            raise PrefixRefused(pattern, "STS prefixes must not contain CR or LF")
        if len(prefix.encode()) > MAX_PREFIX_BYTES:
            raise PrefixRefused(pattern, f"a prefix is longer than {MAX_PREFIX_BYTES} bytes")
    return sorted(set(prefixes))


def _collapse(prefixes: set[str]) -> list[str]:
    """Drop every prefix another one in the set already covers (STS requires distinct prefixes)."""
    kept: list[str] = []
    for prefix in sorted(prefixes):
        if kept and prefix.startswith(kept[-1]):
            continue
        kept.append(prefix)
    return kept


@dataclass
class PrefixFilter:
    """The ``ObjectConditions`` prefixes for a transfer, plus notes on what was simplified."""

    include_prefixes: list[str] = field(default_factory=list)
    exclude_prefixes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Human-readable remarks (e.g. an exclusion dropped because nothing it names is included)."""
    translated: dict[str, list[str]] = field(default_factory=dict)
    """Each source regex and the prefixes it became (for the dry-run and the report)."""


def translate_filters(exclude: list[str], include: list[str] | None = None) -> PrefixFilter:
    """Translate exclude (and optional include) regexes into valid STS prefix lists.

    The result obeys the API's rules: no prefix covers another in the same
    list, every exclude starts with some include (when includes exist), at most
    1000 of each.  Raises :class:`PrefixRefused` for a regex prefixes cannot
    express, or when the filters together exclude everything.
    """
    out = PrefixFilter()
    inc: set[str] = set()
    exc: set[str] = set()
    for pattern in include or []:
        out.translated[pattern] = regex_to_prefixes(pattern)
        inc.update(out.translated[pattern])
    for pattern in exclude:
        out.translated[pattern] = regex_to_prefixes(pattern)
        exc.update(out.translated[pattern])
    excludes = _collapse(exc)
    includes = _collapse(inc)
    if includes:
        # An include wholly covered by an exclude selects nothing: drop it.
        survivors = [i for i in includes if not any(i.startswith(e) for e in excludes)]
        for dropped in sorted(set(includes) - set(survivors)):
            out.notes.append(f"include prefix {dropped!r} is entirely excluded; dropped")
        if not survivors:
            raise PrefixRefused(
                ", ".join(list(include or []) + list(exclude)), "together the filters exclude every path"
            )
        kept_excludes = []
        for e in excludes:
            if any(e.startswith(i) for i in survivors):
                kept_excludes.append(e)
            else:
                out.notes.append(f"exclude prefix {e!r} names nothing that is included; dropped")
        includes, excludes = survivors, kept_excludes
    if len(includes) > MAX_PREFIXES or len(excludes) > MAX_PREFIXES:
        raise PrefixRefused(", ".join(exclude), f"more than {MAX_PREFIXES} prefixes (the STS limit)")
    out.include_prefixes = includes
    out.exclude_prefixes = excludes
    return out
