"""Demo training throughput: a short SGD run of a linear model in pure Python.

Prints {"samples_per_s": N, "step_time_s": T, "steps": S} like a training script's summary line.
"""
import json
import random
import time

rng = random.Random(0)
features, batch, steps = 16, 64, 400
true_w = [rng.uniform(-1, 1) for _ in range(features)]
data = [[rng.uniform(-1, 1) for _ in range(features)] for _ in range(batch * 4)]
labels = [sum(a * b for a, b in zip(true_w, row)) for row in data]
w = [0.0] * features
started = time.perf_counter()
for step in range(steps):
    lo = (step * batch) % len(data)
    grad = [0.0] * features
    for row, label in zip(data[lo:lo + batch], labels[lo:lo + batch]):
        err = sum(a * b for a, b in zip(w, row)) - label
        for i in range(features):
            grad[i] += err * row[i] / batch
    w = [wi - 0.1 * gi for wi, gi in zip(w, grad)]
elapsed = time.perf_counter() - started
print(f"step {steps}: done")
print(json.dumps({"samples_per_s": round(steps * batch / elapsed, 2), "step_time_s": round(elapsed / steps, 6),
                  "steps": steps}))
