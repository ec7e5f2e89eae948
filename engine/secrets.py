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

_KEY40 = r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
"""A secret access key's value: 40 base64 characters, whatever they spell (AWS's documented example ends in
EXAMPLEKEY, words the shape heuristic below takes for a name)."""
_KEY_NAME = r"(?:aws[_-]?secret(?:[_-]?access)?(?:[_-]?key)?|secret[_-]?(?:access[_-]?)?key)"
"""How a secret access key is introduced: aws_secret_access_key, AWS_SECRET_ACCESS_KEY, SecretAccessKey,
--aws-secret-access-key, secret_key, aws_secret."""

_SECRET_VALUES: list[tuple[re.Pattern[str], str]] = [
    # A key known by its context, value included: the patterns after these replaced the name
    # (`aws_secret_access_key =`, `"SecretAccessKey":`, `AKIA...:`) and left the value that follows it.
    (re.compile(rf"(?i){_KEY_NAME}[\"']?\s*[=:]?\s*[\"']?{_KEY40}"), "an AWS secret access key"),
    (re.compile(rf"\b(?:AKIA|ASIA)[0-9A-Z]{{16}}[\"']?\s*[\s:/,;|=]\s*[\"']?{_KEY40}"),
     "an AWS access key id with its secret key"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    # the whole block; cut short (a truncated message, a service-account file pasted in part), up to the end of
    # its base64 lines (a JSON-escaped "\n" included)
    (re.compile(r"-----BEGIN ([A-Z ]*)(PRIVATE KEY|CERTIFICATE)-----(?:[\s\S]*?-----END \1\2-----|[A-Za-z0-9+/=\s\\]*)"),
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
    # an HTTP credential as sent (not "Bearer $TOKEN", a reference)
    (re.compile(r"\b[Bb]earer\s+(?![$<{])[A-Za-z0-9._~+/-]{16,}=*"), "a bearer token"),
    # https://user:password@host: the user and password only, so the address stays readable
    (re.compile(r"(?<=://)[^\s/?#@:]+:(?![$<{])[^\s/?#@]{4,}@"), "a password in a URL"),
    # a credential handed to a command inline: HF_TOKEN=..., WANDB_API_KEY=... (not $HF_TOKEN, a reference)
    (re.compile(r"\b[A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)=[^\s\"'$]{8,}"),
     "a credential set inline (VAR=value)"),
]


_ANY_SECRET_VALUE = re.compile(
    r"AKIA|ASIA|-----BEGIN |ya29\.|\"type\"|gh[pousr]_|xox[abpr]-|IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|hf_"
    r"|TOKEN=|SECRET=|PASSWORD=|PASSWD=|API_KEY=|ACCESS_KEY=|PRIVATE_KEY=|[Bb]earer|://[^\s/?#@]*@"
    r"|(?i:secret[_-]?(?:access[_-]?)?key|aws[_-]?secret|aws_session_token)")
"""A cheap first pass: a string none of these occur in matches none of ``_SECRET_VALUES``."""
_SHORTEST_SECRET_VALUE = 10
"""No text shorter holds a match of a pattern in ``_SECRET_VALUES`` (``://u:pass@``; ``xoxa-`` plus ten)."""


def looks_like_secret_value(value: str) -> str | None:
    """Why ``value`` looks like a credential, or None."""
    for pattern, why in _SECRET_VALUES:
        if pattern.search(value):
            return f"the value looks like {why}"
    return None


_BASE64_RUN = re.compile(r"[A-Za-z0-9/+]+")
_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[/+]")
_MIN_PIECES = 13
"""A secret access key is 30 random bytes in base64: split into words (``Jalr``, ``XU``, ``7``, ``/``) it gives 22
pieces on average, fewer than 13 in 0.12 % of 100,000 drawn keys; labels and paths made of words give fewer
(``ThisIsMyVeryLongDescriptiveName20241130X``: 9, ``data/Run2024/ImageNetTrainSplitV2/shard7``: 14, a
path: see ``paths``)."""


def looks_like_bare_secret_key(value: str, paths: bool = False) -> bool:
    """Whether ``value`` holds a bare AWS secret access key: a run of exactly 40 base64 characters (not part of
    a longer one: a SHA-256 in base64 has 43 and '='), with upper and lower case and digits (a git commit id
    is one case of hex), split into many short pieces as random text is (a label made of words is not).
    ``paths``: the field also holds paths (a command line): a run with "/" is taken for one."""
    if len(value) < 40:
        return False
    for run in _BASE64_RUN.findall(value):
        if len(run) != 40 or (paths and "/" in run):
            continue
        if not (re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and re.search(r"\d", run)):
            continue
        if len(_PIECES.findall(run)) >= _MIN_PIECES:
            return True
    return False


PATH_FIELDS = frozenset({
    "src", "dst", "local_dirs", "images_dir", "prefixes", "baseline", "report_dir", "xid_log", "source", "target",
    "body_file", "baseline_file", "target_file", "k8s_manifests", "state_dir", "include", "exclude", "pattern",
    "gcs_component_prefix", "url", "old", "new", "bucket"})
"""Profile fields that hold paths, URLs, object prefixes, image references or patterns: a 40-character run of
letters, digits and "/" there is a name, not taken for a secret key."""


PATTERN_FIELDS = frozenset({"include", "exclude", "pattern"})
"""Path fields typed by hand (globs): judged as free text is (:func:`holds_bare_key_text`), which tells a path
of words from a key with "/" in it; a key pasted as an exclude pattern would otherwise reach the session."""


def _holds_commands(field: str) -> bool:
    return "command" in field or field in ("rollback", "job_process")


_SECRET_FLAG = re.compile(r"^--?([A-Za-z][\w-]*?(?:secret|password|passwd|passphrase|token|key|credentials?))(?:=(.*))?$",
                          re.IGNORECASE | re.DOTALL)


def _secret_flag(word: str) -> tuple[str, str | None] | None:
    """``--aws-secret-access-key`` (or ``--api-key=VALUE``): a flag whose name ends in what it takes, a secret;
    ``--token-file`` or ``--password-stdin`` name where one is, not one."""
    match = _SECRET_FLAG.match(word)
    if match is None or not names_a_secret(match.group(1).replace("-", "_")):
        return None
    return match.group(1), match.group(2)


_KEY_WORD = re.compile(rf"(?i)^{_KEY_NAME}$")


def _given_as_value(value: str) -> bool:
    """A value given to a secret flag that is the secret itself: not a ``$VAR`` reference, a path or a flag."""
    return bool(value) and not value.startswith(("$", "/", "./", "~", "-", "@"))


def names_a_secret(key: str) -> bool:
    """Whether a key's name says it holds a credential (``db_password``, ``API_TOKEN``), not where one lives
    (``secret_arn``, ``token_file``)."""
    return bool(_SECRET_KEY.search(key) and not _POINTER_SUFFIX.search(key))


def find_secrets(data: Any, path: tuple[Any, ...] = (), known: list[str] | None = None) -> list[tuple[tuple[Any, ...], str]]:
    """Every (key path, reason) in a parsed profile that holds or names a secret.

    ``known``: this process's credential values (:func:`environment_secrets` when None), recognised exactly;
    a secret access key from elsewhere is recognised by its shape (:func:`looks_like_bare_secret_key`)
    outside the fields that hold paths, and any value that follows a flag naming a secret in a command
    (``--aws-secret-access-key VALUE``)."""
    return list(_walk(data, path, environment_secrets() if known is None else known))


def _field(path: tuple[Any, ...]) -> str:
    return next((str(p) for p in reversed(path) if isinstance(p, str)), "")


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
        flag = None
        for index, value in enumerate(data):
            if flag is not None and isinstance(value, str) and _given_as_value(value):
                yield path + (index,), f"the value follows {flag}, so it is a credential"
            else:
                yield from _walk(value, path + (index,), known)
            given = _secret_flag(value) if isinstance(value, str) else None
            flag = f"--{given[0].lstrip('-')}" if given is not None and given[1] is None else None
            if flag is None and isinstance(value, str) and _KEY_WORD.match(value):  # `aws configure set NAME VALUE`
                flag = value
    elif isinstance(data, str):
        why = looks_like_secret_value(data)
        if why is None and any(value in data for value in known):
            why = "the value holds a credential of this environment (an AWS_SECRET_ACCESS_KEY, a *_TOKEN ...)"
        field = _field(path)
        if why is None and field not in PATH_FIELDS and looks_like_bare_secret_key(data, paths=_holds_commands(field)):
            why = "the value looks like an AWS secret access key (40 random letters, digits, / and +)"
        if why is None and field in PATTERN_FIELDS and holds_bare_key_text(data):
            why = "the value looks like an AWS secret access key (40 random letters, digits, / and +)"
        if why is None and (given := _secret_flag(data)) is not None and given[1] is not None \
                and _given_as_value(given[1]):
            why = f"the value sets --{given[0]}, so it holds a credential"
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


_FORTY_RUN = re.compile(r"(?<![A-Za-z0-9+])[A-Za-z0-9/+]{40,}(?![A-Za-z0-9+=])")
"""A run of 40 or more base64 characters (one search: the cheap first pass of the heuristic below); a key is a
40-character stretch of it that is the whole run or one bounded by "/" (``s3://bucket/KEY``, ``**/KEY``)."""
_MIN_PIECES_WITH_SLASH = 15
"""In free text a run with "/" may be a path: counted without its slashes, a path of words gives ~8-11 pieces
(``data/Run2024/ImageNetTrainSplitV2/shard7``: 11), a key with "/" fewer than 15 in 0.4 % of 100,000 drawn."""
_ENVIRONMENT = "[redacted: a credential of this environment]"
_BARE_KEY = "[redacted: looks like an AWS secret key]"


def _bare_key_in_text(run: str) -> bool:
    """The free-text form of :func:`looks_like_bare_secret_key`: a run with "/" is judged on its pieces between
    the slashes (a path's are words), not skipped (half of all keys hold a "/")."""
    if not (re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and re.search(r"\d", run)):
        return False
    if "/" not in run:
        return len(_PIECES.findall(run)) >= _MIN_PIECES
    return sum(len(_PIECES.findall(part)) for part in run.split("/")) >= _MIN_PIECES_WITH_SLASH


def _keys_in_run(run: str) -> list[tuple[int, int]]:
    """The (start, end) of each 40-character stretch of ``run`` taken for a key: from the run's start or just
    after a "/" to its end or just before a "/" (a longer run of letters and digits alone is no key)."""
    if "/" not in run:
        return [(0, 40)] if len(run) == 40 and _bare_key_in_text(run) else []
    ends = {len(run)} | {i for i, c in enumerate(run) if c == "/"}
    found: list[tuple[int, int]] = []
    for start in [0] + [i + 1 for i, c in enumerate(run) if c == "/"]:
        end = start + 40
        if end in ends and (not found or start >= found[-1][1]) and _bare_key_in_text(run[start:end]):
            found.append((start, end))
    return found


def _redact_keys(match: re.Match[str]) -> str:
    run = match.group(0)
    for start, end in reversed(_keys_in_run(run)):
        run = run[:start] + _BARE_KEY + run[end:]
    return run


def holds_bare_key_text(text: str) -> bool:
    """Whether free text holds a run that :func:`redact` takes for a bare AWS secret access key."""
    return len(text) >= 40 and any(_keys_in_run(m.group(0)) for m in _FORTY_RUN.finditer(text))


NAME_KEYS = frozenset({"item", "path", "paths", "src", "dst", "key", "object", "prefix", "file", "files",
                       "plan_file", "plan_first", "bucket", "manifest", "journal"})
"""Fields of events, summaries and plans that hold object names and paths: a 40-character run there is a name,
never judged by its shape (a random object name was "[redacted: looks like an AWS secret key]" in --json
lines); a key given with its context (``AKIA...:KEY``) or this environment's credential is still removed."""


def redact(text: str, known: list[str] | None = None, names: bool = False) -> str:
    """Replace anything that looks like a credential in free text: the one function every write to the session
    store, the logs under the state directory and ``--json`` output passes through.

    It applies what profiles are checked with (:data:`_SECRET_VALUES`, the bare secret key heuristic) and this
    environment's credential values; what it removes is named (``[redacted: looks like an AWS secret key]``)
    so a reader knows something was there and what.  ``known``: the environment's credential values, when the
    caller already has them. ``names``: the text is an object name or a path (:data:`NAME_KEYS`), so the shape
    of a 40-character run alone does not make it a key.
    """
    if len(text) < _MIN_SECRET_LEN:
        return text
    for value in environment_secrets() if known is None else known:
        if value in text:
            text = text.replace(value, _ENVIRONMENT)
    if len(text) >= _SHORTEST_SECRET_VALUE and _ANY_SECRET_VALUE.search(text):
        for pattern, why in _SECRET_VALUES:
            text = pattern.sub(f"[redacted: looks like {why}]", text)
    if not names and len(text) >= 40 and _FORTY_RUN.search(text):
        text = _FORTY_RUN.sub(_redact_keys, text)
    return text


def redact_data(data: Any, known: list[str] | None = None, names: bool = False) -> Any:
    """``redact`` every string inside a JSON-like value, keys included, keeping its structure; a value under one
    of :data:`NAME_KEYS` as a name.

    Redact before serialising: a pattern applied to JSON text could cut it into invalid JSON.
    """
    if known is None:
        known = environment_secrets()
    if isinstance(data, str):
        return redact(data, known, names=names)
    if isinstance(data, dict):
        return {redact(k, known) if isinstance(k, str) else k: redact_data(v, known, k in NAME_KEYS)
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        # an argument list (`aws configure set aws_secret_access_key KEY`, `--aws-secret-access-key KEY`): the
        # word after a key's name is judged with it, as the same command written as one string is
        return [redact(f"{before} {v}", known).removeprefix(f"{before} ")
                if isinstance(v, str) and isinstance(before, str) and _KEY_WORD.match(before.lstrip("-"))
                else redact_data(v, known, names) for before, v in zip([None, *data], data)]
    return data
