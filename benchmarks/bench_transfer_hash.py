"""Hashing: CRC32C (google-crc32c) and SHA-256 of a 1 GiB file, vs `sha256sum` in the same run.

Run: .venv/bin/python benchmarks/bench_transfer_hash.py [--mib 1024]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.transfer.checksums import hash_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.bin")
        with open(path, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(a.mib):
                f.write(block)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        size = a.mib * (1 << 20)

        def timed(fn):
            t0 = time.perf_counter()
            out = fn()
            return time.perf_counter() - t0, out

        t_crc, h1 = timed(lambda: hash_file(path))
        t_sha, h2 = timed(lambda: hash_file(path, sha256=True))
        t_sum, out = timed(lambda: subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout)
        assert out.split()[0] == h2.sha256_hex, "sha256 disagrees with sha256sum"
        mb = size / 1e6
        print(f"file: {a.mib} MiB (page cache warm)")
        print(f"  gpumigrate CRC32C           {t_crc:6.2f} s  {mb / t_crc:8.0f} MB/s")
        print(f"  gpumigrate CRC32C+SHA-256   {t_sha:6.2f} s  {mb / t_sha:8.0f} MB/s")
        print(f"  sha256sum                   {t_sum:6.2f} s  {mb / t_sum:8.0f} MB/s")
        print(f"  ratio (gpumigrate sha256 time / sha256sum time): {t_sha / t_sum:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
