"""The embedded price and hardware catalog, and its refreshers."""
