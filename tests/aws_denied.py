"""A loopback proxy in front of moto that refuses chosen AWS actions the way AWS does for an identity
whose policy does not allow them.  moto's server does not enforce IAM policies for these calls, so
this answers the services' own error documents before forwarding:

- EC2 (query protocol): HTTP 403, ``<Response><Errors><Error><Code>UnauthorizedOperation</Code>...``
  (EC2 API reference, "Error codes for the Amazon EC2 API": UnauthorizedOperation, 403).
- S3 (REST-XML): HTTP 403, ``<Error><Code>AccessDenied</Code>...`` (S3 API reference, "Error responses").

The message texts follow AWS's explicit-deny wording ("User: ARN is not authorized to perform: ACTION
because no identity-based policy allows the ACTION action").  A refusal is chosen per (service, region,
action), the region and service read from the SigV4 credential scope of the request.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback_proxy import LoopbackProxy, ProxyHandler

USER = "arn:aws:iam::123456789012:user/inventory-reader"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


def _ec2_error(action: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code>'
            f"<Message>You are not authorized to perform this operation. User: {USER} is not authorized to perform: "
            f"ec2:{action} because no identity-based policy allows the ec2:{action} action</Message></Error>"
            "</Errors><RequestID>5f1bd1a2-9c4e-4d57-8f0e-3b2a7c9d1e40</RequestID></Response>").encode()


def _s3_error(action: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>User: {USER} is not authorized to perform: s3:{action} because no identity-based policy "
            f"allows the s3:{action} action</Message><RequestId>9B5C3F1E2A7D4E60</RequestId>"
            "<HostId>aGVsbG8gZnJvbSB0aGUgcHJveHk=</HostId></Error>").encode()


class DeniedAws(LoopbackProxy):
    """``deny``: {(service, region or "*", action)}; S3's ListBuckets is ("s3", "*", "ListAllMyBuckets")."""

    def __init__(self, upstream: str, deny: set[tuple[str, str, str]]):
        super().__init__(upstream)
        self.deny = deny
        self.refused: list[tuple[str, str, str]] = []
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                scope = _SCOPE.search(self.headers.get("Authorization", ""))
                service, region = (scope["service"], scope["region"]) if scope else ("", "")
                action = proxy._action(service, self.command, self.path, body)
                if any((service, r, action) in proxy.deny for r in (region, "*")):
                    proxy.refused.append((service, region, action))
                    error = _ec2_error(action) if service == "ec2" else _s3_error(action)
                    self._send(403, error, [("Content-Type", "text/xml;charset=UTF-8")])
                    return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                self._send(status, data, headers)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self._serve(Handler)

    @staticmethod
    def _action(service: str, method: str, path: str, body: bytes) -> str:
        if service == "s3":
            return "ListAllMyBuckets" if method == "GET" and urlsplit(path).path == "/" else f"{method} {path}"
        form: dict[str, Any] = parse_qs(body.decode("utf-8", "replace"))
        return (form.get("Action") or [""])[0]
