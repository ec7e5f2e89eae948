"""`gpumigrate validate --fields` ("every profile field with its meaning", README) called an optional table a list of
tables: `transfer[].sts` and `transfer[].sts[].schedule` were "list of tables" with `[]` in their sub-fields' names,
which reads as `[[transfer.sts]]`; they are `[transfer.sts]` / `[transfer.sts.schedule]` (review s8readme)."""

from __future__ import annotations

from engine.profile import field_help


def test_an_optional_table_is_a_table_and_a_list_is_a_list() -> None:
    kinds = {name: kind for name, kind, _ in field_help()}
    assert kinds["transfer"] == "list of tables"
    assert kinds["transfer[].sts"] == "table"
    assert kinds["transfer[].sts.schedule"] == "table"
    assert kinds["transfer[].sts.thresholds"] == "table"
    assert "transfer[].sts.thresholds.bytes" in kinds and not any(n.startswith("transfer[].sts[]") for n in kinds)
    assert kinds["cost.options"] == kinds["cutover.runbook"] == kinds["inventory.buckets"] == "list of tables"
    assert kinds["verify.gpu"] == "table"
