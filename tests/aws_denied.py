"""Loopback proxies in front of moto for what moto does not do as AWS does: refusing chosen actions (below)
and paging ListBuckets (:class:`PagedListBuckets`).  moto's server does not enforce IAM policies for
these calls; :class:`DeniedAws` answers the services' own error documents before forwarding:

- EC2 (query protocol): HTTP 403, ``<Response><Errors><Error><Code>UnauthorizedOperation</Code>...``
  (EC2 API reference, "Error codes for the Amazon EC2 API": UnauthorizedOperation, 403).
- S3 (REST-XML): HTTP 403, ``<Error><Code>AccessDenied</Code>...`` (S3 API reference, "Error responses").

The message texts follow AWS's explicit-deny wording ("User: ARN is not authorized to perform: ACTION
because no identity-based policy allows the ACTION action").  A refusal is chosen per (service, region,
action), the region and service read from the SigV4 credential scope of the request.

Opt-in regions (those moto lists as ``not-opted-in``, i.e. launched after March 2019): ``not_enabled`` ones
answer every EC2 call with 401 AuthFailure, the others count as enabled (``opted-in``); EC2's DescribeRegions
is answered as EC2 does, which moto does not: without ``AllRegions`` or ``RegionNames`` only enabled regions,
the ``opt-in-status`` filter applied (EC2 API reference, DescribeRegions).  ``v1_session_tokens``: the
temporary credentials came from the global STS endpoint with version 1 tokens, valid only in the regions
enabled by default (IAM API reference, SetSecurityTokenServicePreferences), so an enabled opt-in region
answers AuthFailure too.  ``bad_credentials``: every call answers as to a deleted key (EC2 401 AuthFailure,
S3 403 InvalidAccessKeyId).  ``slow``: seconds every answer takes (an endpoint far away or overloaded).
"""

from __future__ import annotations

import re
import time
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


_INVALID_KEY = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>The AWS '
                "Access Key Id you provided does not exist in our records.</Message><RequestId>4442587FB7D0A2F9"
                "</RequestId></Error>").encode()
_REGION_ITEM = re.compile(r"<item>(?:(?!</item>).)*?<regionName>(?P<name>[^<]+)</regionName>.*?</item>", re.S)


class DeniedAws(LoopbackProxy):
    """``deny``: {(service, region or "*", action)}; S3's ListBuckets is ("s3", "*", "ListAllMyBuckets")."""

    def __init__(self, upstream: str, deny: set[tuple[str, str, str]], not_enabled: frozenset[str] = frozenset(),
                 v1_session_tokens: bool = False, bad_credentials: bool = False, slow: float = 0.0):
        super().__init__(upstream)
        self.slow = slow
        self.deny = deny
        self.not_enabled = not_enabled  # opt-in regions this account has not enabled: EC2 answers 401 AuthFailure
        self.v1_session_tokens = v1_session_tokens
        self.bad_credentials = bad_credentials
        self.refused: list[tuple[str, str, str]] = []
        self.opt_in: set[str] = set()  # the opt-in regions (moto's not-opted-in), read on the first DescribeRegions
        proxy = self

        class Handler(ProxyHandler):
            def _handle(self) -> None:
                body = self._body()
                scope = _SCOPE.search(self.headers.get("Authorization", ""))
                service, region = (scope["service"], scope["region"]) if scope else ("", "")
                action = proxy._action(service, self.command, self.path, body)
                xml = [("Content-Type", "text/xml;charset=UTF-8")]
                if proxy.slow:
                    time.sleep(proxy.slow)
                if proxy.bad_credentials:
                    self._send(*((401, _AUTH_FAILURE) if service == "ec2" else (403, _INVALID_KEY)), xml)
                    return
                token = bool(self.headers.get("X-Amz-Security-Token"))
                if service == "ec2" and (region in proxy.not_enabled or (
                        token and proxy.v1_session_tokens and region in proxy._opt_in_regions())):
                    self._send(401, _AUTH_FAILURE, xml)
                    return
                if any((service, r, action) in proxy.deny for r in (region, "*")):
                    proxy.refused.append((service, region, action))
                    error = _ec2_error(action) if service == "ec2" else _s3_error(action)
                    self._send(403, error, [("Content-Type", "text/xml;charset=UTF-8")])
                    return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                if service == "ec2" and action == "DescribeRegions" and status == 200:
                    data = proxy._regions_as_ec2(data, parse_qs(body.decode("utf-8", "replace")))
                self._send(status, data, headers)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self._serve(Handler)

    def _opt_in_regions(self) -> set[str]:
        if not self.opt_in:
            import boto3

            ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=f"http://{self.up_host}:{self.up_port}")
            self.opt_in = {r["RegionName"] for r in ec2.describe_regions()["Regions"]
                           if r.get("OptInStatus") == "not-opted-in"}
        return self.opt_in

    def _regions_as_ec2(self, data: bytes, form: dict[str, list[str]]) -> bytes:
        """moto's DescribeRegions answer (every region, opt-in ones all not-opted-in) as EC2 gives it."""
        text = data.decode("utf-8")
        opt_in = self._opt_in_regions()
        wanted = {v[0] for k, v in form.items() if k.startswith("RegionName.")}
        every = (form.get("AllRegions") or ["false"])[0].lower() == "true" or bool(wanted)
        filters = {k.split(".")[1] for k, v in form.items() if k.startswith("Filter.") and k.endswith(".Name")
                   and v == ["opt-in-status"]}
        statuses = {v[0] for k, v in form.items() if k.startswith("Filter.") and k.split(".")[1] in filters
                    and ".Value." in k}

        def item(match: re.Match[str]) -> str:
            name = match["name"]
            status = ("not-opted-in" if name in self.not_enabled else "opted-in") if name in opt_in \
                else "opt-in-not-required"
            if (wanted and name not in wanted) or (not every and status == "not-opted-in") or \
                    (statuses and status not in statuses):
                return ""
            return re.sub(r"<optInStatus>[^<]*</optInStatus>", f"<optInStatus>{status}</optInStatus>", match[0])

        return _REGION_ITEM.sub(item, text).encode()

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
