"""Front ends: the `gpumigrate` CLI (headless) and the Textual app."""
