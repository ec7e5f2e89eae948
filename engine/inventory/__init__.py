"""Inventory: local GPUs (NVML), AWS instances and buckets, local data and images."""
