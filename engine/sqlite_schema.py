"""One way to bring a SQLite file to the schema this gpumigrate knows (``PRAGMA user_version``).

The session store and the transfer journal both keep their layout version in the file and upgrade it
in place; they did it with two copies of the same transaction. Shared here so a fix to the upgrade
(the re-read under the write lock, the refusal of a newer file) reaches both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from engine.errors import EnvironmentProblem


def statements(script: str) -> list[str]:
    """The SQL statements of ``script`` (split on ``;``; blank ones dropped)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def upgrade(db: sqlite3.Connection, base: str, migrations: list[str], newer: Callable[[int, int], str]) -> int:
    """Bring ``db`` to version ``len(migrations)``; returns the version it had.

    ``base`` creates the tables of a new file (version 0); ``migrations[i]`` takes version ``i`` to
    ``i + 1``. A file from a newer gpumigrate is refused with the message ``newer(found, known)``
    (the two versions): it is not ours to downgrade. The version is read again under the write
    lock, because another process may have upgraded the file meanwhile.
    """
    version = len(migrations)
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found == version:
        return found
    if found > version:
        raise EnvironmentProblem(newer(found, version))
    db.execute("BEGIN IMMEDIATE")
    try:
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found < version:
            if found == 0:
                for statement in statements(base):
                    db.execute(statement)
            for statement in (s for m in migrations[found:] for s in statements(m)):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found
