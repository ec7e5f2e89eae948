"""Small reusable widgets (charts, tables, dialogs)."""
