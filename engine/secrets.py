"""Find credentials where they must never be: profiles, logs, the session store.

Key names and values are both checked.  A key may *name where* a secret lives
(``aws_role_arn``, ``secret_manager_name``, ``..._env``) but never hold one.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterator

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|passphrase|token|private[_-]?key|access[_-]?key|api[_-]?key|credential|session[_-]?key)",
    re.IGNORECASE,
)
_POINTER_SUFFIX = re.compile(r"(_ref|_arn|_name|_env|_from|_resource|_path|_file)$", re.IGNORECASE)

_SECRET_VALUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN ([A-Z ]*)(PRIVATE KEY|CERTIFICATE)-----(?:[\s\S]*?-----END \1\2-----)?"),
     "a PEM private key"),
    (re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), "a Google OAuth access token"),
    (re.compile(r"\"type\"\s*:\s*\"service_account\""), "a service-account key file"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abpr]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"SecretAccessKey", re.IGNORECASE), "an AWS secret access key"),
    (re.compile(r"(?i)aws_secret_access_key\s*[=:]"), "an AWS secret access key"),
    (re.compile(r"(?i)aws_session_token\s*[=:]"), "an AWS session token"),
    # STS session tokens start with these base64 prefixes ("!\n\torigin_ec..." and the older "\x17\n\x06er/aws")
    (re.compile(r"\b(IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[0-9A-Za-z/+=]{20,}"), "an AWS session token"),
    (re.compile(r"\bhf_[0-9A-Za-z]{30,}"), "a Hugging Face access token"),
    # a credential handed to a command inline: HF_TOKEN=..., WANDB_API_KEY=... (not $HF_TOKEN, a reference)
    (re.compile(r"\b[A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)=[^\s\"'$]{8,}"),
     "a credential set inline (VAR=value)"),
]


_ANY_SECRET_VALUE = re.compile(
    r"AKIA|ASIA|-----BEGIN |ya29\.|\"type\"|gh[pousr]_|xox[abpr]-|IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|hf_"
    r"|TOKEN=|SECRET=|PASSWORD=|PASSWD=|API_KEY=|ACCESS_KEY=|PRIVATE_KEY="
    r"|(?i:secretaccesskey|aws_secret_access_key|aws_session_token)")
"""A cheap first pass: a string none of these occur in matches none of ``_SECRET_VALUES``."""
_SHORTEST_SECRET_VALUE = 14
"""No pattern in ``_SECRET_VALUES`` matches fewer characters (``xoxa-`` plus ten)."""


def looks_like_secret_value(value: str) -> str | None:
    """Why ``value`` looks like a credential, or None."""
    for pattern, why in _SECRET_VALUES:
        if pattern.search(value):
            return f"the value looks like {why}"
    return None


def names_a_secret(key: str) -> bool:
    """Whether a key's name says it holds a credential (``db_password``, ``API_TOKEN``), not where one lives
    (``secret_arn``, ``token_file``)."""
    return bool(_SECRET_KEY.search(key) and not _POINTER_SUFFIX.search(key))


def find_secrets(data: Any, path: tuple[Any, ...] = (), known: list[str] | None = None) -> list[tuple[tuple[Any, ...], str]]:
    """Every (key path, reason) in a parsed document that holds or names a secret.

    ``known``: this process's credential values (:func:`environment_secrets` when None): no pattern
    recognises a pasted 40-character AWS secret key, but its exact value can be recognised."""
    return list(_walk(data, path, environment_secrets() if known is None else known))


def _walk(data: Any, path: tuple[Any, ...], known: list[str]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            here = path + (key,)
            key_text = str(key)
            if names_a_secret(key_text):
                yield here, "this field name is for a credential"
                continue
            yield from _walk(value, here, known)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, path + (index,), known)
    elif isinstance(data, str):
        why = looks_like_secret_value(data)
        if why is None and any(value in data for value in known):
            why = "the value holds a credential of this environment (an AWS_SECRET_ACCESS_KEY, a *_TOKEN ...)"
        if why:
            yield path, why


_MIN_SECRET_LEN = 8


_KEY_IS_SECRET: dict[str, bool] = {}


def environment_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Values of this process's credential variables (AWS_SECRET_ACCESS_KEY, *_TOKEN, ...).

    Patterns cannot recognise a 40-character AWS secret; its exact value can be
    removed wherever it shows up (an echoed error, a library's debug line).
    Read on every call (the environment can change), with the per-name regex decision cached.
    """
    env = os.environ if environ is None else environ
    values = set()
    for key, value in env.items():
        secret = _KEY_IS_SECRET.get(key)
        if secret is None:
            secret = _KEY_IS_SECRET[key] = bool(_SECRET_KEY.search(key) and not _POINTER_SUFFIX.search(key))
        if secret and len(value) >= _MIN_SECRET_LEN and not value.startswith(os.path.sep):
            values.add(value)
    return sorted(values, key=len, reverse=True)


def redact(text: str, known: list[str] | None = None) -> str:
    """Replace anything that looks like a credential in free text (for logs and events).

    ``known``: the environment's credential values, when the caller already has them.
    """
    if len(text) < _MIN_SECRET_LEN:
        return text
    for value in environment_secrets() if known is None else known:
        if value in text:
            text = text.replace(value, "[REDACTED]")
    if len(text) < _SHORTEST_SECRET_VALUE or not _ANY_SECRET_VALUE.search(text):
        return text
    for pattern, _why in _SECRET_VALUES:
        text = pattern.sub("[REDACTED]", text)
    return text


def redact_data(data: Any, known: list[str] | None = None) -> Any:
    """``redact`` every string inside a JSON-like value, keys included, keeping its structure.

    Redact before serialising: a pattern applied to JSON text could cut it into invalid JSON.
    """
    if known is None:
        known = environment_secrets()
    if isinstance(data, str):
        return redact(data, known)
    if isinstance(data, dict):
        return {redact(k, known) if isinstance(k, str) else k: redact_data(v, known) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v, known) for v in data]
    return data
