"""The parallel lister against moto's S3 server and fake-gcs-server: the same objects, in the
same order, as a plain listing, and a transfer that plans from it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from engine.transfer.api import TransferSpec, plan_transfer
from engine.transfer.backends import open_backend
from engine.transfer.lister import parallel_list
from engine.transfer.urls import parse_url
from tests.transfer_support import gcs_client, s3_client

# directories (one with a single child chain), a flat run of keys, odd names, a key equal to a "directory"
KEYS = ([f"data/{d:02d}/obj-{i:04d}.bin" for d in range(8) for i in range(120)]
        + [f"flat-{i:05d}" for i in range(300)]
        + ["deep/a/b/c/only.txt", "data/05", "data/05/", "ünï cødé/文件.txt", "z"])


def _fill(put, keys=KEYS) -> None:
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, keys))


def _check(backend) -> list[tuple[str, int]]:
    plain = [(o.path, o.size) for o in backend.list_range(None, None)]
    assert [p for p, _ in plain] == sorted(KEYS)
    assert [(o.path, o.size) for o in parallel_list(backend, jobs=6, want=24)] == plain
    assert [(o.path, o.size) for o in parallel_list(backend, jobs=1)] == plain
    assert backend.list_jobs == 6  # from jobs: the default path for a listing over one page
    assert [(o.path, o.size) for o in backend.list()] == plain
    return plain


def test_parallel_listings_equal_plain_ones_and_plan_s3_to_gcs(aws, gcs, unique_bucket):
    s3 = s3_client()
    s3.create_bucket(Bucket="lister")
    _fill(lambda k: s3.put_object(Bucket="lister", Key=f"pre/{k}", Body=k.encode()))
    s3.put_object(Bucket="lister", Key="other/outside", Body=b"x")  # outside the location: never listed
    bucket = gcs_client().create_bucket(unique_bucket)
    _fill(lambda k: bucket.blob(f"pre/{k}").upload_from_string(k.encode()))
    s3b = open_backend(parse_url("s3://lister/pre"), jobs=6)
    gcsb = open_backend(parse_url(f"gs://{unique_bucket}/pre"), jobs=6)
    try:
        assert _check(s3b) == _check(gcsb)
    finally:
        s3b.close()
        gcsb.close()
    # the destination misses a few objects and has two extra: the plan pairs the two parallel listings
    gone = sorted(KEYS)[5::300]
    for k in gone:
        bucket.blob(f"pre/{k}").delete()
    for k in ("data/03/zz-extra", "zz-extra"):
        bucket.blob(f"pre/{k}").upload_from_string(b"e")
    plan = plan_transfer(TransferSpec(src="s3://lister/pre", dst=f"gs://{unique_bucket}/pre", jobs=6, delete=True),
                         keep=None)
    assert (plan.source_objects, plan.destination_objects) == (len(KEYS), len(KEYS) - len(gone) + 2)
    assert sorted(a.path for a in plan.actions if a.kind == "copy") == gone
    assert sorted(a.path for a in plan.actions if a.kind == "delete") == ["data/03/zz-extra", "zz-extra"]
    assert plan.skip == len(KEYS) - len(gone)


def test_small_listing_takes_one_request(aws):
    s3 = s3_client()
    s3.create_bucket(Bucket="lister-small")
    for i in range(5):
        s3.put_object(Bucket="lister-small", Key=f"k{i}", Body=b"")
    backend = open_backend(parse_url("s3://lister-small"), jobs=4)
    calls = []
    backend.client.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: calls.append(1))
    try:
        assert [o.path for o in backend.list()] == [f"k{i}" for i in range(5)]
    finally:
        backend.close()
    assert len(calls) == 1
