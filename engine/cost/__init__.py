"""The cost model: source vs Google Cloud options, one-off costs, break-even."""
