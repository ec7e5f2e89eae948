"""``redact`` skips most strings with a cheap first pass; that pass must never skip a real match."""

from __future__ import annotations

from hypothesis import given, strategies as st

from engine.secrets import _ANY_SECRET_VALUE, _SECRET_VALUES, _SHORTEST_SECRET_VALUE, redact

EXAMPLES = [
    "key AKIAIOSFODNN7EXAMPLE in an error",
    "ASIAZZZZZZZZZZZZZZZZ",
    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "Authorization: Bearer ya29.a0AfH6SMBx-abcdefghijklmnopqrstuvw",
    '{"type": "service_account", "project_id": "p"}',
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "xoxb-1234567890-abcdef",
    "SecretAccessKey",
    "secretaccesskey=abc",
    "AWS_SECRET_ACCESS_KEY = x",
    "curl -H 'Authorization: Bearer 0123456789abcdefXYZ'",
    "https://deploy:hunter22@registry.example.com/v2/",
    "://u:pass@",
]


def test_every_example_is_redacted_and_passes_the_first_pass() -> None:
    for text in EXAMPLES:
        assert _ANY_SECRET_VALUE.search(text), text
        assert redact(text, known=[]) != text, text


@given(st.sampled_from(EXAMPLES), st.text(max_size=20), st.text(max_size=20))
def test_first_pass_agrees_with_the_patterns(example: str, before: str, after: str) -> None:
    text = before + example + after
    if any(p.search(text) for p, _ in _SECRET_VALUES):
        assert _ANY_SECRET_VALUE.search(text)
        assert len(text) >= _SHORTEST_SECRET_VALUE


@given(st.text(max_size=40))
def test_no_pattern_matches_what_the_first_pass_skips(text: str) -> None:
    if not _ANY_SECRET_VALUE.search(text) or len(text) < _SHORTEST_SECRET_VALUE:
        assert not any(p.search(text) for p, _ in _SECRET_VALUES)


def test_known_values_are_replaced_and_short_strings_pass_through() -> None:
    assert redact("token is hunter2hunter2!", known=["hunter2hunter2"]) == "token is [redacted: a credential of this environment]!"
    assert redact("copied", known=["hunter2hunter2"]) == "copied"
