"""A project's number from its id (Cloud Resource Manager ``projects.get``).

The Budgets API stores ``projects/NUMBER`` in a budget's filter whatever it was
sent, so comparing the stored filter with the profile's project needs the
number.  ``GPUMIGRATE_RESOURCEMANAGER_ENDPOINT`` points the lookup at another
endpoint (a stand-in on 127.0.0.1, reached without credentials).
"""

from __future__ import annotations

import os
import re

ENDPOINT_ENV = "GPUMIGRATE_RESOURCEMANAGER_ENDPOINT"
DEFAULT_ENDPOINT = "https://cloudresourcemanager.googleapis.com"


def project_number(project_id: str, endpoint: str | None = None) -> str | None:
    """The number of ``project_id``, or None when it cannot be read (no permission, no such project,
    no credentials): callers then compare without it and say so."""
    from urllib.parse import urlsplit

    from engine.ops.alerts import _is_loopback

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
    if endpoint is None and os.environ.get("GPUMIGRATE_BUDGETS_ENDPOINT"):
        return None  # the budgets go to a stand-in: never call the real Resource Manager from here
    endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    url = f"{endpoint}/v3/projects/{project_id}"
    try:
        if _is_loopback(urlsplit(endpoint).hostname or ""):
            import requests

            response = requests.get(url, timeout=10)
        else:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform.read-only"])
            response = AuthorizedSession(credentials).get(url, timeout=10)
    except Exception:  # noqa: BLE001 - any failure means "not known"; the caller says so
        return None
    if response.status_code != 200:
        return None
    match = re.fullmatch(r"projects/([0-9]+)", str(response.json().get("name", "")))
    return match.group(1) if match else None
