"""Secrets typed as free text never reach the session file (nor its -wal), the logs beside it, ``session export``
or ``--json`` output: each is put through every free-text path, then the raw bytes are searched for it.

Before the write boundary (``engine.session.store._RedactingConnection``) an approval's withdrawal reason, an
operator's declared name and a bare AWS secret key anywhere (a tick note, an error a library echoed) were
written as typed: only known patterns and this process's environment were redacted, and only where a caller
remembered to.  The keys below are drawn at random (``random.Random(7)``), not the documented example key.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.cutover.status import export
from engine.cutover.worker import JsonLinesSink, LogSink
from engine.events import ItemDone, Message, StepFinished
from engine.secrets import find_secrets, redact
from engine.session import SessionStore, session_path
from tui.output import JsonSink

BARE_KEY = "pU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8"
BARE_KEY_WITH_SLASH = "nVw0YL4xIB5p/tqg7ui5mX9cfCmZ/a/lkyU81lSv"
KEY_ID = "AKIAZ7Q3M5X2W9R4T6YB"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
BEARER = "tok.9fK2mQ7xLp4Vz8Rn1Ws3Yb6Hc5Jd0Gt"
URL_PASSWORD = "Pa55w0rdOfTheRegistry"
ENV_SECRET = "zq8-unusual-credential-value"

SECRETS = {
    # what is typed -> the part that must not be found anywhere
    f"the key is {BARE_KEY} (rotate it)": BARE_KEY,
    f"aws_secret={BARE_KEY_WITH_SLASH}": BARE_KEY_WITH_SLASH,
    f"{KEY_ID}:{BARE_KEY}": KEY_ID,
    ('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n' + PEM_BODY
     + '\\n-----END PRIVATE KEY-----\\n"}'): PEM_BODY,
    f"pasted: -----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n": PEM_BODY,  # a block cut short
    f"403 from GET /v1/jobs, headers: Authorization: Bearer {BEARER}": BEARER,
    f"could not reach https://deploy:{URL_PASSWORD}@registry.example.com/v2/": URL_PASSWORD,
    f"token {ENV_SECRET} echoed": ENV_SECRET,
}
LEGITIMATE = [
    "fb49846e5f4b2a30a7c5d9f0e1b2c3d4e5f60718",  # a git commit id
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # sha256 hex
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # sha256 base64
    "data/Run2024/ImageNetTrainSplitV2/shard7",  # a path of exactly 40
    "ThisIsMyVeryLongDescriptiveName20241130X",  # a label of exactly 40
    "https://registry.example.com/v2/ubuntu@sha256",
]


@pytest.fixture
def env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUMIGRATE_TEST_API_TOKEN", ENV_SECRET)


def _raw(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _assert_clean(raw: bytes, where: str) -> None:
    for typed, part in SECRETS.items():
        assert part.encode() not in raw, f"{part!r} (from {typed[:30]!r}) reached {where}"


def test_each_secret_through_every_free_text_path_never_reaches_a_file(env_secret: None, tmp_path: Path) -> None:
    state = session_path("leak").parent
    with SessionStore.open("leak") as first:
        first.set_shared_account(True)
    logs = state / "leak.logs"
    logs.mkdir()
    json_out = io.StringIO()
    with SessionStore.open("leak", operator=BARE_KEY) as s, open(logs / "worker.log", "w") as log, \
            open(logs / "worker.jsonl", "w") as jsonl:
        sinks = [s.record, LogSink(log), JsonLinesSink(jsonl), JsonSink(json_out)]
        for n, typed in enumerate(SECRETS):
            s.tick(f"item-{n}", note=typed)  # a runbook tick or a sign-off note
            approval = s.request_approval("delete", typed)  # an approval's detail
            s.withdraw_approval(approval, typed)  # and the reason it ended
            s.set_meta("run_options", json.dumps({"exclude": [typed]}))  # an exclude pattern
            s.set_step(f"s{n}", "failed", result={"summary": typed})
            for sink in sinks:  # an error a library echoed, as every sink receives it
                sink(Message("transfer", text=typed, level="error"))
                sink(ItemDone("transfer", item="a/b.bin", status="failed", detail=typed))
                sink(StepFinished("transfer", ok=False, summary=typed))
        s.flush_events()
        assert state.joinpath("leak.sqlite-wal").exists()  # the WAL is searched before a checkpoint empties it
        _assert_clean(_raw(state), "the state directory (session file, -wal, audit files, logs)")
        export(s, tmp_path / "export")
        assert s.operator == BARE_KEY  # the declared name is the recorded one ...
        assert BARE_KEY not in s.events_after(0)[-1].operator  # ... but not as stored
    _assert_clean(_raw(tmp_path / "export"), "session export")
    _assert_clean(json_out.getvalue().encode(), "--json output")
    _assert_clean(_raw(state), "the closed session file")
    assert "[redacted: looks like an AWS secret key]" in (tmp_path / "export" / "leak.md").read_text()
    for line in json_out.getvalue().splitlines():
        json.loads(line)  # redacted value by value, still JSON


def test_legitimate_values_are_stored_as_written(env_secret: None, tmp_path: Path) -> None:
    with SessionStore.open("legit") as s:
        for n, value in enumerate(LEGITIMATE):
            s.tick(f"item-{n}", note=f"checked {value}")
            s.append("transfer", "note", {"text": value})
            s.set_meta("run_options", json.dumps({"exclude": [value]}))
        assert [e.payload["text"] for e in s.events_after(0) if e.kind == "note"] == LEGITIMATE
        raw = _raw(session_path("legit").parent)
    for value in LEGITIMATE:
        assert value.encode() in raw
        assert redact(value, known=[]) == value


def test_redaction_says_what_it_removed() -> None:
    assert redact(f"key {BARE_KEY}.", known=[]) == "key [redacted: looks like an AWS secret key]."
    assert redact(f"id {KEY_ID}", known=[]) == "id [redacted: looks like an AWS access key id]"
    assert redact(f"x {ENV_SECRET} y", known=[ENV_SECRET]) == "x [redacted: a credential of this environment] y"
    assert redact(f"https://u:{URL_PASSWORD}@h/p", known=[]) == \
        "https://[redacted: looks like a password in a URL]h/p"
    assert redact("Authorization: Bearer $TOKEN", known=[]) == "Authorization: Bearer $TOKEN"  # a reference


def test_a_profile_exclude_pattern_holding_a_key_is_refused_and_a_path_pattern_is_not() -> None:
    found = find_secrets({"transfer": [{"exclude": [f"**/{BARE_KEY_WITH_SLASH}"]}]}, known=[])
    assert found and "AWS secret access key" in found[0][1]
    assert find_secrets({"transfer": [{"exclude": ["data/Run2024/ImageNetTrainSplitV2/shard7"],
                                       "src": BARE_KEY}]}, known=[]) == []


def test_the_stored_profile_is_kept_exactly_when_its_own_detector_finds_nothing() -> None:
    """A path field may hold a 40-character name free text would take for a key; the profile run is kept."""
    text = f'schema_version = 1\n[source]\nprovider = "aws"\nlocal_dirs = ["/data/run-{BARE_KEY}.d"]\n'
    with SessionStore.open("prof") as s:
        s.set_meta("profile_toml", text)
        assert s.get_meta("profile_toml") == text
        s.set_meta("profile_toml", text + f'[cutover]\nnote = "{BARE_KEY}"\n')
        assert BARE_KEY not in (s.get_meta("profile_toml") or "")


def test_what_a_library_prints_into_the_worker_log_is_redacted(env_secret: None, tmp_path: Path) -> None:
    """The detached worker's stdout and stderr are its log file (a warning, a debug line, a traceback)."""
    from engine.cutover.worker import RedactingStream

    log = tmp_path / "cut.log"
    with open(log, "w") as raw:
        stream = RedactingStream(raw)
        for typed in SECRETS:
            for piece in (typed[:7], typed[7:], "\n"):  # print() writes a line in pieces
                stream.write(piece)
        stream.write(f"last words {BARE_KEY}")
        stream.flush()
    _assert_clean(log.read_bytes(), "the worker's log")
    assert log.read_text().endswith("last words [redacted: looks like an AWS secret key]")
