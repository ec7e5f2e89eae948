"""Verification checks of the target against a baseline captured on the source."""
