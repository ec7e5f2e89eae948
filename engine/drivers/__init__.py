"""Driver, CUDA and framework compatibility; detection; generated set-up artefacts."""
