"""A profile's file as the user wrote it: choices applied onto the parsed TOML, comments and order kept.

The app saves a changed :class:`~engine.profile.Profile` by applying the difference onto the file's
own document (``tomlkit``), not by writing the model out afresh: every comment a person (or
``gpumigrate init``) put in the file, and the order of its keys and tables, survives a save.  Only
what changed is touched: a changed value keeps its inline comment, a new key goes after the last key
of its table (not under a commented-out block that follows it), a new table or ``[[...]]`` entry is
added at the end of its parent, and when a table goes away the comments that stood in front of the
*next* header stay in front of it.

``# decide:`` lines (what ``gpumigrate init`` could not choose) are dropped once the choice is made:
a ``# decide: ITEM`` line goes when ITEM was left to decide in the profile the file held and no
longer is in the one being saved (engine.guide says which); the ``# [section]`` placeholder above a
block of such lines goes with the last of them.  A ``# decide:`` line a person wrote about something
else stays.

``tomlkit`` is optional here: the engine imports without it, and a save then writes the profile
afresh (no comments kept).

New files are created exclusively (:func:`create_profile_file`): a file that appeared in the
meantime is never overwritten.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from engine.errors import ExitCode, GpumigrateError

try:  # keeping comments is the app's nicety, not something the engine needs to import or run
    import tomlkit
    from tomlkit.container import Container
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import AoT, Comment, Null, Table, Whitespace
except ImportError:  # without it a save writes the profile afresh (the save's diff shows what that drops)
    tomlkit = None  # type: ignore[assignment]

_DECIDE = re.compile(r"^\s*# decide: (?P<item>.+?)\s*$")
_PLACEHOLDER = re.compile(r"^\s*# \[\[?[A-Za-z0-9_.-]+\]\]?\s*$")


def render_onto(old_text: str | None, profile: Any) -> str:
    """The text to save for ``profile`` when the file holds ``old_text`` (None: no file yet)."""
    from engine.profile import dump_profile, profile_to_dict

    if not old_text or not old_text.strip() or tomlkit is None:
        return dump_profile(profile)
    try:
        doc = tomlkit.parse(old_text)
    except (TOMLKitError, ValueError):
        return dump_profile(profile)  # not TOML: nothing to keep (the save diff shows the whole file)
    try:
        _apply_table(doc, profile_to_dict(profile), doc)
        text = tomlkit.dumps(doc)
    except (TOMLKitError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return dump_profile(profile)  # a layout this cannot edit in place: the plain file (the diff shows it)
    if tomllib.loads(text) != profile_to_dict(profile):  # never save something other than the choices
        return dump_profile(profile)
    return _drop_made_decisions(text, _open_items(old_text), _open_items_of(profile))


class ProfileChangedOnDisk(GpumigrateError):
    """The file is no longer what the saver read: someone else changed it (another editor, ``gpumigrate
    init`` again).  Writing would silently overwrite their change, so nothing is written."""

    exit_code = ExitCode.BAD_INPUT


_ANY = object()


NOT_A_FILE = "not a regular file"
"""The digest of a path that holds something else now (a folder, a named pipe): never a file's digest."""


def file_digest(path: Path) -> str | None:
    """The file's content as a SHA-256 hex digest (None: no such file), to tell a change made elsewhere.

    A folder or a named pipe in the file's place is :data:`NOT_A_FILE`, not read: the app looks every second
    on its UI thread, and reading a pipe nobody writes froze it (a folder raised IsADirectoryError)."""
    import stat

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return NOT_A_FILE
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_unchanged(path: Path, expect: Any = _ANY) -> None:
    """Raise :class:`ProfileChangedOnDisk` unless ``path`` holds what was read (``expect``: its digest
    then, None for no file); no ``expect``: no check (a caller that has not read the file)."""
    if expect is _ANY:
        return
    now = file_digest(path)
    if now == expect:
        return
    what = "was removed" if now is None else "changed on disk"
    raise ProfileChangedOnDisk(f"{path} {what} since it was read (another editor, or gpumigrate init?); "
                               "nothing was saved: reload it first, then make the change again")


def save_onto(path: Path, profile: Any, expect: Any = _ANY) -> str:
    """Write ``profile`` into ``path`` keeping what the file's author wrote; returns the digest written.

    ``expect``: the digest of the file as the caller read it; a file changed since is not written."""
    check_unchanged(path, expect)
    try:
        old = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        old = None
    text = render_onto(old, profile)
    write_atomic(path, text)
    return text_digest(text)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` atomically (temporary file beside it, then rename): a crash never leaves half a profile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def create_profile_file(path: Path, text: str) -> None:
    """Create ``path`` with ``text``, never replacing a file that exists (or appears while we write).

    The text goes to a temporary file first and is then hard-linked to ``path``: ``link`` fails if the
    name exists, so the check and the creation are one step, and a reader never sees half a file.  Where
    the file system has no hard links, ``O_EXCL`` gives the same guarantee (without the atomic content).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; it was not overwritten") from None
    except OSError:  # no hard links here (some network and FUSE file systems)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise FileExistsError(f"{path} already exists; it was not overwritten") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    finally:
        tmp.unlink(missing_ok=True)


# --- decisions ------------------------------------------------------------------------------


def _open_items_of(profile: Any) -> set[str]:
    from engine.guide import WALK, left_to_decide

    return {item for step in WALK for item in left_to_decide(profile, step)}


def _open_items(text: str) -> set[str]:
    from engine.profile import ProfileError, parse_profile

    try:
        return _open_items_of(parse_profile(text, "<on disk>"))
    except ProfileError:
        return set()  # the file on disk did not load: keep every comment


def _drop_made_decisions(text: str, was_open: set[str], still_open: set[str]) -> str:
    made = was_open - still_open
    if not made:
        return text
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)  # TOML's lines (str.splitlines also splits at U+0085 etc.)

    def made_line(line: str) -> bool:
        match = _DECIDE.match(line)
        return bool(match and match.group("item") in made)

    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _PLACEHOLDER.match(line):
            j = i + 1
            while j < len(lines) and lines[j].lstrip().startswith("#") and made_line(lines[j]):
                j += 1
            block_ends = j == len(lines) or not lines[j].lstrip().startswith("#")
            if j > i + 1 and block_ends:  # "# [section]" and only decisions now made under it
                if (j == len(lines) or not lines[j].strip()) and (not out or not out[-1].strip()):
                    j += 1  # and one of the two blank lines around the block
                i = j
                continue
        if not made_line(line):
            out.append(line)
        i += 1
    result = "".join(out)
    return result if tomllib.loads(result) == tomllib.loads(text) else text


# --- applying the choices onto the document -----------------------------------------------


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _container(table: Any) -> Container:
    return table if isinstance(table, Container) else table.value


def _fresh(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.table()
        for k, v in value.items():
            table.add(k, _fresh(v))
        return table
    if _is_table_list(value):
        aot = tomlkit.aot()
        for v in value:
            aot.append(_fresh(v))
        return aot
    return tomlkit.item(value)


def _apply_table(table: Any, new: dict[str, Any], root: Any) -> None:
    for key in [k for k in list(table.keys()) if k not in new]:
        old = table[key]
        if isinstance(old, (Table, AoT)):
            _keep_tail_before_next_header(root, old)
        del table[key]
    for key, value in new.items():
        if key not in table:
            _add(table, key, value, is_doc=table is root)
            continue
        old = table[key]
        if isinstance(value, dict) and isinstance(old, (Table, dict)) and not _is_inline(old):
            _apply_table(old, value, root)
        elif _is_table_list(value) and isinstance(old, AoT):
            _apply_list(old, value, root)
        elif _plain(old) == value and type(_plain(old)) is type(value) or _same_number(_plain(old), value):
            continue  # unchanged: keep how it was written
        elif isinstance(value, dict) and _is_inline(old):
            inline = tomlkit.inline_table()
            inline.update(value)
            table[key] = inline
        elif isinstance(old, (Table, AoT)) != (isinstance(value, dict) or _is_table_list(value)):
            # a value becomes a table (``transfer = []`` -> ``[[transfer]]``) or the reverse: it moves to
            # where its kind goes, instead of a header appearing among the keys
            if isinstance(old, (Table, AoT)):
                _keep_tail_before_next_header(root, old)
            del table[key]
            _add(table, key, value, is_doc=table is root)
        else:
            table[key] = _fresh(value) if isinstance(value, dict) or _is_table_list(value) else value


def _same_number(old: Any, new: Any) -> bool:
    return (isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool)
            and not isinstance(new, bool) and old == new)


def _is_inline(item: Any) -> bool:
    return isinstance(item, tomlkit.items.InlineTable)


def _add(table: Any, key: str, value: Any, is_doc: bool) -> None:
    item = _fresh(value)
    if not isinstance(table, (Container, Table)):  # a table split across the file (tomlkit's proxy)
        table[key] = item
        return
    container = _container(table)
    if isinstance(item, (Table, AoT)):
        tail = [] if is_doc else _pop_tail(table)  # at the end of the file, comments stay where they are
        if not is_doc and not _ends_blank(_last_body(table)):
            _first_header(item).trivia.indent = "\n"
        table.add(key, item)
        if tail:
            _last_body(item).extend(tail)
        return
    body = container.body
    position = None
    for index, (k, v) in enumerate(body):
        if isinstance(v, (Table, AoT)) and k is not None and not k.is_dotted():
            break
        if k is not None and not isinstance(v, (Null, Whitespace, Comment)):
            position = index + 1
    if position is None:  # no key yet: after the comments right under the header
        position = 0
        while position < len(body) and isinstance(body[position][1], Comment):
            position += 1
    if position >= len(body):
        table.add(key, item)
    else:
        container._insert_at(position, key, item)  # noqa: SLF001 - tomlkit's positional insert


def _apply_list(old: AoT, new: list[dict[str, Any]], root: Any) -> None:
    """Entries matched by content (difflib), so a removed entry takes its own comments with it."""
    before = [json.dumps(_plain(t), sort_keys=True) for t in old]
    after = [json.dumps(v, sort_keys=True) for v in new]
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    offset = 0
    for tag, a0, a1, b0, b1 in ops:
        if tag == "equal":
            continue
        common = min(a1 - a0, b1 - b0) if tag == "replace" else 0
        for k in range(common):
            _apply_table(old[a0 + offset + k], new[b0 + k], root)
        for k in range(b0 + common, b1):  # inserted entries, after the ones edited in place
            _insert_entry(old, a0 + offset + common, _fresh(new[k]))
            offset += 1
        removed_from = a0 + offset + common
        for _ in range(a1 - a0 - common):  # removed entries (a block never both inserts and removes)
            _remove_entry(old, removed_from)
            offset -= 1


def _insert_entry(aot: AoT, index: int, table: Table) -> None:
    if index >= len(aot):
        tail = _pop_tail(aot[-1]) if len(aot) else []
        if len(aot) and not _ends_blank(_last_body(aot[-1])):
            table.trivia.indent = "\n"
        aot.append(table)
        if tail:
            _last_body(table).extend(tail)
    else:
        if index > 0 and not _ends_blank(_last_body(aot[index - 1])):
            table.trivia.indent = "\n"
        aot.insert(index, table)


def _remove_entry(aot: AoT, index: int) -> None:
    """The entry goes with the comments right above its header (they describe it); the comments above
    the next header stay in front of it."""
    if index > 0:
        _pop_tail(aot[index - 1])  # this entry's own comments
    tail = _pop_tail(aot[index])
    del aot[index]
    if not tail:
        return
    if index > 0:
        _last_body(aot[index - 1]).extend(tail)
    else:
        first = aot[0]  # never empty: new entries are inserted before old ones are removed
        first.trivia.indent = "".join(i.as_string() for _k, i in tail) + first.trivia.indent


def _ends_blank(body: list[tuple[Any, Any]]) -> bool:
    last = next((v for _k, v in reversed(body) if not isinstance(v, Null)), None)
    return isinstance(last, Whitespace) and "\n" in last.s


def _first_header(item: Any) -> Any:
    return item[0] if isinstance(item, AoT) else item


def _last_body(item: Any) -> list[tuple[Any, Any]]:
    """The body list whose end is the end of ``item``'s rendered text."""
    if isinstance(item, AoT):
        return _last_body(item[-1]) if len(item) else []
    body = _container(item).body
    for k, v in reversed(body):
        if isinstance(v, Null):
            continue
        if isinstance(v, (Table, AoT)) and k is not None and not k.is_dotted():
            return _last_body(v)
        break
    return body


def _pop_tail(item: Any) -> list[tuple[Any, Any]]:
    """Remove and return the comments at the end of ``item`` (they stand before the next header).

    Blank lines before the first of them stay where they are."""
    body = _last_body(item)
    start = len(body)
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], (Comment, Whitespace, Null)):
        start -= 1
    if any(isinstance(v, Comment) for _k, v in body[start:]):
        while not isinstance(body[start][1], Comment):
            start += 1
    tail = body[start:]
    del body[start:]
    return tail


def _headers(item: Any) -> list[Any]:
    """Every table ``item`` renders under a header of its own, in the order they appear in the file."""
    out: list[Any] = []
    if isinstance(item, AoT):
        for entry in item:
            out += [entry] + _headers_below(entry)
        return out
    return _headers_below(item)


def _headers_below(table: Any) -> list[Any]:
    out: list[Any] = []
    for k, v in _container(table).body:
        if isinstance(v, AoT):
            out += _headers(v)
        elif isinstance(v, Table) and k is not None and not k.is_dotted():
            out += ([] if v.is_super_table() else [v]) + _headers_below(v)
    return out


def _keep_tail_before_next_header(root: Any, item: Any) -> None:
    """Before ``item`` (a table or [[...]]) is deleted: its tail goes in front of the next header."""
    tail = _pop_tail(item)
    if not tail:
        return
    text = "".join(i.as_string() for _k, i in tail)
    order = _headers(root)
    mine = {id(t) for t in ([] if isinstance(item, AoT) else [item]) + _headers(item)}
    positions = [n for n, t in enumerate(order) if id(t) in mine]
    after = order[positions[-1] + 1:] if positions else []
    following = next((t for t in after if id(t) not in mine), None)
    if following is not None:
        following.trivia.indent = text + following.trivia.indent
    else:  # it was at the end of the file, and stays there
        _container(root).body.append((None, Whitespace(text)))
