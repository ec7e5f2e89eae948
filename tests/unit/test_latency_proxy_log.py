"""The latency proxy's request log (benchmarks/wan_requests.py counts requests per object from
it): request lines are found wherever a chunk holds them, bodies are not taken for requests,
and a request is reduced to its kind (names of buckets, objects and query values dropped)."""

from __future__ import annotations

from benchmarks.latency_proxy import REQUEST_LINE, request_kind


def kinds(data: bytes) -> list[str]:
    return [request_kind(m.group(1), m.group(2)) for m in REQUEST_LINE.finditer(data)]


def test_two_requests_in_one_chunk_are_two_kinds() -> None:
    data = (b"GET /src/t/small/00/0001.bin HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /upload/storage/v1/b/bk/o?uploadType=multipart&ifGenerationMatch=0 HTTP/1.1\r\n"
            b"Host: x\r\nContent-Length: 3\r\n\r\nabc")
    assert kinds(data) == ["GET /*/*/*/*/*", "POST /upload/storage/v1/b/*/o?ifGenerationMatch&uploadType"]


def test_a_body_line_that_is_not_a_request_line_is_not_counted() -> None:
    body = b"\r\nGET this is not a request\r\nDELETE /x HTTP/2\r\n"
    assert kinds(b"PUT /bucket/k HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + body) == ["PUT /*/*"]


def test_compose_and_object_paths_keep_their_shape() -> None:
    assert request_kind(b"POST", b"/storage/v1/b/bk/o/dst%2Fbig.bin/compose?ifGenerationMatch=0") == \
        "POST /storage/v1/b/*/o/*/compose?ifGenerationMatch"
