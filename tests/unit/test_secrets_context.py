"""A secret key is known by its context, an object name by its field.

AWS's published example key (`wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, words at its end) passed every check: the
context patterns replaced the *name* (`aws_secret_access_key =`, `"SecretAccessKey":`, `AWS_SECRET_ACCESS_KEY=`,
`AKIA...:`) and left the value after it, and the bare-key heuristic judges by shape only. Meanwhile a random
40-character object name in a `--json` line's `item` was replaced by "[redacted: looks like an AWS secret key]"."""

from __future__ import annotations

import io
import json
import random
import string
from pathlib import Path

import pytest

from engine.events import ItemDone
from engine.secrets import find_secrets, redact, redact_data
from engine.session import SessionStore, session_path
from tui.output import JsonSink

EXAMPLE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documentation example, not a live key
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
_rnd = random.Random(11)
OBJECT_NAME = "".join(_rnd.choice(string.ascii_letters + string.digits) for _ in range(40))  # the heuristic's key

IN_CONTEXT = [
    f"aws_secret_access_key = {EXAMPLE}",  # ~/.aws/credentials
    f"aws_secret_access_key: {EXAMPLE}",  # YAML
    f'export AWS_SECRET_ACCESS_KEY="{EXAMPLE}"',  # a shell line, quoted
    f"docker run -e AWS_SECRET_ACCESS_KEY={EXAMPLE} img",
    '{"AccessKeyId": "%s", "SecretAccessKey": "%s"}' % (KEY_ID, EXAMPLE),  # aws iam create-access-key
    f"SecretAccessKey={EXAMPLE}",
    f"{KEY_ID}:{EXAMPLE}",
    f"{KEY_ID} {EXAMPLE}",
    f"{KEY_ID},{EXAMPLE}",  # the console's credentials CSV
    f"aws configure set aws_secret_access_key {EXAMPLE}",
    f"--aws-secret-access-key {EXAMPLE}",
    f"--aws-secret-access-key={EXAMPLE}",
]


@pytest.mark.parametrize("text", IN_CONTEXT)
def test_a_key_in_its_context_is_redacted_words_and_all(text: str) -> None:
    out = redact(text, known=[])
    assert EXAMPLE not in out and "EXAMPLEKEY" not in out, out
    assert "[redacted:" in out


@pytest.mark.parametrize("text", IN_CONTEXT)
def test_a_profile_holding_it_is_refused(text: str) -> None:
    found = find_secrets({"cutover": {"runbook": [{"title": "rotate", "note": text}]}}, known=[])
    assert found, text


def test_a_profile_command_setting_the_key_is_refused() -> None:
    found = find_secrets({"verify": {"latency": {"command": ["aws", "configure", "set", "aws_secret_access_key",
                                                            EXAMPLE]}}}, known=[])
    assert [path for path, _ in found] == [("verify", "latency", "command", 4)], found


def test_names_and_plain_words_stay() -> None:
    assert redact_data({"item": f"s3://bucket/{OBJECT_NAME}"}, known=[]) == {"item": f"s3://bucket/{OBJECT_NAME}"}
    said = "aws_secret_access_key is read from the environment, never from the profile"
    assert redact(said, known=[]) == said


def test_an_object_name_in_a_json_line_is_kept(tmp_path: Path) -> None:
    out = io.StringIO()
    sink = JsonSink(out)
    sink(ItemDone("transfer", item=f"data/{OBJECT_NAME}", status="copied"))
    sink(ItemDone("transfer", item=OBJECT_NAME, status="failed", detail="NoSuchKey"))
    sink.close()
    items = [json.loads(line)["item"] for line in out.getvalue().splitlines()]
    assert items == [f"data/{OBJECT_NAME}", OBJECT_NAME]
    # a summary's failures and plans name objects too
    assert redact_data({"failures": [{"path": OBJECT_NAME, "error": "x"}]}, known=[]) == \
        {"failures": [{"path": OBJECT_NAME, "error": "x"}]}


def test_a_name_field_still_loses_a_key_given_in_its_context() -> None:
    assert EXAMPLE not in json.dumps(redact_data({"item": f"{KEY_ID}:{EXAMPLE}"}, known=[]))
    assert KEY_ID not in json.dumps(redact_data({"path": f"creds/{KEY_ID}"}, known=[]))


def test_the_session_store_never_holds_the_example_key(tmp_path: Path) -> None:
    with SessionStore.open("ctx") as s:
        s.tick("1", note=f'rotated: export AWS_SECRET_ACCESS_KEY="{EXAMPLE}"')
        s.request_approval("delete", f"{KEY_ID}:{EXAMPLE}")
        s.set_step("transfer", "failed", result={"summary": f"aws_secret_access_key = {EXAMPLE}"})
        s.flush_events()
        raw = b"".join(p.read_bytes() for p in session_path("ctx").parent.rglob("*") if p.is_file())
    assert EXAMPLE.encode() not in raw and b"EXAMPLEKEY" not in raw


@pytest.mark.parametrize("argv", [["aws", "configure", "set", "aws_secret_access_key", EXAMPLE],
                                  ["aws", "s3", "ls", "--aws-secret-access-key", EXAMPLE]])
def test_a_key_after_its_name_in_an_argument_list_is_redacted(argv: list[str]) -> None:
    """The same command as a list (an argv recorded in a result or an event): the profile check refused it, but
    redact_data, what every write to the session store passes through, judged each word alone and kept the key."""
    kept = redact_data({"argv": argv}, [])["argv"]
    assert EXAMPLE not in json.dumps(kept), kept
    assert kept[:-1] == argv[:-1] and "[redacted: looks like an AWS secret access key]" in kept[-1], kept
    assert redact_data(["aws_secret_access_key", "is a field name"], []) == ["aws_secret_access_key",
                                                                             "is a field name"]
