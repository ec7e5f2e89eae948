"""Find credentials where they must never be: profiles, logs, the session store.

Key names and values are both checked.  A key may *name where* a secret lives
(``aws_role_arn``, ``secret_manager_name``, ``..._env``) but never hold one.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|passphrase|token|private[_-]?key|access[_-]?key|api[_-]?key|credential|session[_-]?key)",
    re.IGNORECASE,
)
_POINTER_SUFFIX = re.compile(r"(_ref|_arn|_name|_env|_from|_resource|_path|_file)$", re.IGNORECASE)

_SECRET_VALUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"), "a PEM private key"),
    (re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), "a Google OAuth access token"),
    (re.compile(r"\"type\"\s*:\s*\"service_account\""), "a service-account key file"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abpr]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"SecretAccessKey", re.IGNORECASE), "an AWS secret access key"),
    (re.compile(r"(?i)aws_secret_access_key\s*[=:]"), "an AWS secret access key"),
]


def looks_like_secret_value(value: str) -> str | None:
    """Why ``value`` looks like a credential, or None."""
    for pattern, why in _SECRET_VALUES:
        if pattern.search(value):
            return f"the value looks like {why}"
    return None


def find_secrets(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every (key path, reason) in a parsed document that holds or names a secret."""
    return list(_walk(data, path))


def _walk(data: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            here = path + (key,)
            key_text = str(key)
            if _SECRET_KEY.search(key_text) and not _POINTER_SUFFIX.search(key_text):
                yield here, "this field name is for a credential"
                continue
            yield from _walk(value, here)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, path + (index,))
    elif isinstance(data, str):
        why = looks_like_secret_value(data)
        if why:
            yield path, why


def redact(text: str) -> str:
    """Replace anything that looks like a credential in free text (for logs and events)."""
    for pattern, _why in _SECRET_VALUES:
        text = pattern.sub("[REDACTED]", text)
    return text
