"""Loopback proxies in front of moto for what moto does not do as AWS does: refusing chosen actions (below)
and paging ListBuckets (:class:`PagedListBuckets`).  moto's server does not enforce IAM policies for
these calls; :class:`DeniedAws` answers the services' own error documents before forwarding:

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


# What EC2 answers in a region the account has not opted in to (steampipe-plugin-aws#75, fog-aws#585:
# "status code: 401 ... AuthFailure: AWS was not able to validate the provided access credentials").
_AUTH_FAILURE = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>AuthFailure</Code>'
                 "<Message>AWS was not able to validate the provided access credentials</Message></Error></Errors>"
                 "<RequestID>0c6a7a55-4b0e-4f5e-9d6e-2f1c1f7e8a11</RequestID></Response>").encode()


class DeniedAws(LoopbackProxy):
    """``deny``: {(service, region or "*", action)}; S3's ListBuckets is ("s3", "*", "ListAllMyBuckets")."""

    def __init__(self, upstream: str, deny: set[tuple[str, str, str]], not_enabled: frozenset[str] = frozenset()):
        super().__init__(upstream)
        self.deny = deny
        self.not_enabled = not_enabled  # opt-in regions this account has not enabled: EC2 answers 401 AuthFailure
        self.refused: list[tuple[str, str, str]] = []
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                scope = _SCOPE.search(self.headers.get("Authorization", ""))
                service, region = (scope["service"], scope["region"]) if scope else ("", "")
                action = proxy._action(service, self.command, self.path, body)
                if service == "ec2" and region in proxy.not_enabled:
                    self._send(401, _AUTH_FAILURE, [("Content-Type", "text/xml;charset=UTF-8")])
                    return
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


class PagedListBuckets(LoopbackProxy):
    """S3's ListBuckets pagination in front of moto, which answers ``max-buckets`` with that many buckets
    and no ``ContinuationToken`` (the rest are never seen).  S3 pages by ``max-buckets`` and hands a
    ``<ContinuationToken>`` while buckets remain; ``unpaginated`` counts the ListBuckets requests without
    ``max-buckets``, which S3 rejects for an account whose bucket quota is above 10,000."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.unpaginated = 0
        self.pages = 0
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                url = urlsplit(self.path)
                if self.command == "GET" and url.path == "/":
                    query = parse_qs(url.query)
                    status, headers, data = proxy._forward("GET", "/", self.headers, body)
                    if status == 200:
                        data = proxy._page(data, query)
                    self._send(status, data, headers)
                    return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                self._send(status, data, headers)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self._serve(Handler)

    def _page(self, data: bytes, query: dict[str, list[str]]) -> bytes:
        text = data.decode("utf-8")
        buckets = re.findall(r"<Bucket>.*?</Bucket>", text, re.S)
        if "max-buckets" not in query:
            self.unpaginated += 1
            return data
        self.pages += 1
        size = int(query["max-buckets"][0])
        start = int((query.get("continuation-token") or ["0"])[0].removeprefix("page-") or 0)
        chunk = buckets[start:start + size]
        token = (f"<ContinuationToken>page-{start + size}</ContinuationToken>"
                 if start + size < len(buckets) else "")
        head, _, rest = text.partition("<Buckets>")
        _, _, tail = rest.partition("</Buckets>")
        return f"{head}<Buckets>{''.join(chunk)}</Buckets>{token}{tail}".encode()
