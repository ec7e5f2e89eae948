"""Demo model load: read a checkpoint and touch every byte (what torch.load costs without a GPU).

Usage: python load_model.py CHECKPOINT
Prints {"seconds": <load time>, "bytes": <size>} on success; exits 1 if the file is missing or empty.
"""
import hashlib
import json
import sys
import time

started = time.perf_counter()
try:
    with open(sys.argv[1], "rb") as stream:
        data = stream.read()
except (IndexError, OSError) as exc:
    print(f"cannot load the checkpoint: {exc}", file=sys.stderr)
    sys.exit(1)
if not data:
    print("the checkpoint is empty", file=sys.stderr)
    sys.exit(1)
digest = hashlib.sha256(data).hexdigest()
print(json.dumps({"seconds": round(time.perf_counter() - started, 6), "bytes": len(data), "sha256": digest}))
