"""The session file's tables, its version (``PRAGMA user_version``) and the migrations between versions.

A fresh file and an old one take the same path: the version-0 tables (the
layout every session file written before versions existed has), then each
migration above the file's ``user_version``, in one ``BEGIN IMMEDIATE``
transaction so that two processes opening an old file at once migrate it once.
A file from a newer gpumigrate is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

from engine.sqlite_schema import upgrade

BASE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    name TEXT PRIMARY KEY, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, started_at REAL,
    finished_at REAL, updated_at REAL NOT NULL, profile_digest TEXT, result TEXT);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, operator TEXT NOT NULL, step TEXT NOT NULL,
    kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease (
    id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, operator TEXT NOT NULL, pid INTEGER NOT NULL,
    host TEXT NOT NULL, acquired_at REAL NOT NULL, heartbeat_at REAL NOT NULL, ttl_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, detail TEXT NOT NULL, requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at REAL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, holder TEXT NOT NULL, operator TEXT NOT NULL, pid INTEGER NOT NULL,
    host TEXT NOT NULL, steps TEXT NOT NULL, detached INTEGER NOT NULL DEFAULT 0, log_path TEXT,
    started_at REAL NOT NULL, heartbeat_at REAL NOT NULL, ttl_s REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'running', exit_code INTEGER, ended_at REAL, cancel_requested_by TEXT);
CREATE TABLE IF NOT EXISTS control_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, holder TEXT NOT NULL, operator TEXT NOT NULL, requested_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at REAL);
CREATE TABLE IF NOT EXISTS clients (
    holder TEXT PRIMARY KEY, operator TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, kind TEXT NOT NULL,
    attached_at REAL NOT NULL, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runbook_ticks (
    item TEXT PRIMARY KEY, ticked_by TEXT NOT NULL, ticked_at REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
"""
"""Version 0: the layout of every session file written before ``user_version`` was set."""

MIGRATIONS: list[str] = [
    # 1: who acted, as the OS says (actors), and what the audit trail needs to be believed.
    """
    CREATE TABLE actors (
        id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT NOT NULL, uid INTEGER NOT NULL, declared TEXT,
        pid INTEGER NOT NULL, host TEXT NOT NULL, tty TEXT, ssh TEXT, first_seen REAL NOT NULL);
    ALTER TABLE events ADD COLUMN actor INTEGER REFERENCES actors(id);
    ALTER TABLE lease ADD COLUMN uid INTEGER;
    ALTER TABLE runs ADD COLUMN uid INTEGER;
    ALTER TABLE runs ADD COLUMN pause_requested_by TEXT;
    ALTER TABLE runs ADD COLUMN proc_start TEXT;
    ALTER TABLE approvals ADD COLUMN requested_uid INTEGER;
    ALTER TABLE approvals ADD COLUMN decided_uid INTEGER;
    ALTER TABLE approvals ADD COLUMN same_account INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE approvals ADD COLUMN run_id INTEGER;
    ALTER TABLE approvals ADD COLUMN plan_path TEXT;
    ALTER TABLE approvals ADD COLUMN plan_count INTEGER;
    ALTER TABLE approvals ADD COLUMN reason TEXT;
    ALTER TABLE control_requests ADD COLUMN uid INTEGER;
    ALTER TABLE control_requests ADD COLUMN offered_by TEXT;
    ALTER TABLE clients ADD COLUMN uid INTEGER;
    ALTER TABLE clients ADD COLUMN watch_only INTEGER NOT NULL DEFAULT 0;
    """,
    # 2: the driver's and the clients' process start times (BOOT_ID:TICKS), so that a pid reused on this
    # host does not keep a dead holder's seat until its lease expires.
    """
    ALTER TABLE lease ADD COLUMN proc_start TEXT;
    ALTER TABLE clients ADD COLUMN proc_start TEXT;
    """,
    # 3: whether the session said "shared account" when a request was made: an approval is judged by that,
    # so a later run (or dry run) of a profile that says otherwise cannot turn a self-approval into two names.
    """
    ALTER TABLE approvals ADD COLUMN shared_at_request INTEGER;
    """,
    # 4: the requesting process (pid, host, BOOT_ID:TICKS): a request made outside a run (a sign-off from
    # the command line or the app) is withdrawn once that process is gone, as a run's requests die with it.
    """
    ALTER TABLE approvals ADD COLUMN requested_pid INTEGER;
    ALTER TABLE approvals ADD COLUMN requested_host TEXT;
    ALTER TABLE approvals ADD COLUMN requested_start TEXT;
    """,
    # 5: when each host first saw each heartbeat value (its own monotonic clock): a heartbeat from another
    # host is judged by how long it has not changed as seen here, never by comparing two hosts' clocks.
    """
    CREATE TABLE sightings (
        what TEXT NOT NULL, key TEXT NOT NULL, observer TEXT NOT NULL, value REAL NOT NULL, mono REAL NOT NULL,
        wall REAL NOT NULL, PRIMARY KEY (what, key, observer));
    """,
    # 6: when this host first saw the heartbeat at all (any value): until it has watched for the lease time
    # without seeing a change, a heartbeat from another host is alive only "as far as this host can tell".
    """
    ALTER TABLE sightings ADD COLUMN first_mono REAL;
    """,
]

VERSION = len(MIGRATIONS)


def ensure(db: sqlite3.Connection, path: object) -> int:
    """Bring the file to :data:`VERSION`; returns the version it had."""
    return upgrade(db, BASE, MIGRATIONS, lambda found, known: (
        f"{path} was written by a newer gpumigrate (session schema {found}, this one knows up to {known}): "
        "use that version to open it"))
