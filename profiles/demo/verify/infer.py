"""Demo inference request: one forward pass of a tiny fully connected layer (pure Python).

Run once per request by the latency check (its wall time is the request time).
"""
import random

rng = random.Random(42)
weights = [[rng.uniform(-1, 1) for _ in range(32)] for _ in range(32)]
x = [rng.uniform(-1, 1) for _ in range(32)]
y = [max(0.0, sum(w * v for w, v in zip(row, x))) for row in weights]
print(f"{sum(y):.6f}")
