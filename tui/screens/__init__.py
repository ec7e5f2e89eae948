"""One screen per step (a Textual MODE each), plus the Profile view."""
