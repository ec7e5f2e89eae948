"""The rollback plan: for each step of the migration, how to undo it, with exact commands.

``rollback_items`` gives structured items in the order a rollback is carried
out (a runbook shows them; each names the migration step it undoes);
``render_markdown`` is the same as a document.  ``reverse_specs`` turns every
``[[transfer]]`` entry around (target back to source, never deleting on the
source), and ``reverse_sync`` runs them through the transfer engine, so data
written on the target since cutover flows back (``gs://`` to ``s3://``).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.events import Emit, Message, discard
from engine.ops.section import migration_label

if TYPE_CHECKING:  # pragma: no cover
    from engine.profile import Profile
    from engine.transfer.spec import TransferSpec


@dataclass
class RollbackItem:
    """One thing to do (or check) to go back to the source."""

    step: str
    """The migration step this undoes (inventory, cost, transfer, drivers, verify, cutover, ops)."""
    title: str
    commands: list[str] = field(default_factory=list)
    """Exact shell commands, in order."""
    note: str = ""
    gate: bool = False
    """A go/no-go check: the rollback waits here until someone confirms it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _q(value: str) -> str:
    return shlex.quote(value)


def reverse_specs(profile: "Profile") -> list["TransferSpec"]:
    """Each transfer entry reversed: destination back to source, without deleting anything."""
    from engine.transfer.spec import TransferSpec

    out = []
    for spec in profile.transfer:
        fields = spec.model_dump()
        # Back the way it came; never delete on the source; STS cannot write to S3, so the local engine.
        # An entry STS may have copied compares by checksum: STS does not write the mtime metadata a
        # size+mtime compare relies on, so without it every object would look changed and be copied
        # back (the whole dataset's egress again).
        fields.update(src=spec.dst, dst=spec.src, delete=False, max_delete=None, allow_empty_source=False,
                      engine="local", checksum=spec.checksum or spec.engine != "local")
        out.append(TransferSpec.model_validate(fields))
    return out


def _profile_arg(profile_path: Path | None) -> str:
    return _q(str(profile_path)) if profile_path else "PROFILE.toml"


def rollback_items(profile: "Profile", profile_path: Path | None = None) -> list[RollbackItem]:
    """The rollback, in the order to carry it out."""
    ops, tgt, src = profile.ops, profile.target, profile.source
    prof = _profile_arg(profile_path)
    project = f" --project={_q(tgt.project)}" if tgt.project else ""
    region = f" --region={_q(src.region)}" if src.region else ""
    items: list[RollbackItem] = []

    keep = RollbackItem("cutover", "Keep the source running until sign-off", gate=True,
                        note="Do not stop, terminate or downsize the source until the target is signed off; "
                             "rollback relies on it.")
    if src.provider == "aws" and ops.source_instance_id:
        iid = _q(ops.source_instance_id)
        keep.commands = [
            f"aws ec2 modify-instance-attribute --instance-id {iid} --disable-api-termination{region}",
            f"aws ec2 describe-instances --instance-ids {iid}{region} "
            "--query 'Reservations[].Instances[].State.Name' --output text",
        ]
    else:
        keep.note += " (Set [ops].source_instance_id to get the commands that protect it.)"
    items.append(keep)

    from engine.transfer.sts_jobs import runbook_lines

    sts_lines = runbook_lines(profile)
    if sts_lines:
        items.append(RollbackItem(
            "transfer", "Storage Transfer Service jobs of this migration: disabled at cutover sign-off",
            commands=sts_lines,
            note="Sign-off disables them (a schedule would keep copying into the target, and with "
                 "delete-unique-in-sink deleting what the new workload wrote). Check they are DISABLED "
                 "with `gcloud transfer jobs describe NAME`; if sign-off could not reach the service, run these."))

    items.append(RollbackItem("inventory", "Inventory: nothing to undo",
                              note="The inventory step only reads the source."))
    items.append(RollbackItem("cost", "Cost: nothing to undo", note="The cost step only computes."))

    pause = RollbackItem("cutover", "Stop writes on the target: checkpoint there, then stop the job", gate=True,
                         note="The checkpoint command runs ON THE TARGET (over `gcloud compute ssh`), not on this "
                              "machine; then the target instance stops, which ends the job and every write, so "
                              "the reverse sync sees a still data set (and GPU charges stop).")
    if ops.target_instance and tgt.zone:
        ssh = f"gcloud compute ssh {_q(ops.target_instance)} --zone={_q(tgt.zone)}{project} --command="
        if ops.checkpoint_command:
            pause.commands.append(ssh + _q(" ".join(_q(w) for w in ops.checkpoint_command)))
        pause.commands.append(ssh + _q("sudo systemctl stop gpumigrate-spot-watcher.service || true"))
        pause.commands.append(f"gcloud compute instances stop {_q(ops.target_instance)} --zone={_q(tgt.zone)}"
                              f"{project}")
    else:
        pause.note += " (Set [ops].target_instance and [target].zone to get the commands.)"
    items.append(pause)

    specs = reverse_specs(profile)
    if specs:
        sync = RollbackItem(
            "transfer", "Copy data written on the target since cutover back to the source",
            note="The forward transfers only wrote to the target, so the source still holds everything it had. "
                 "The reverse sync copies objects that are new or changed on the target (rsync semantics, "
                 "never deleting on the source). Check the dry run before the real one.",
            commands=[f"gpumigrate ops {prof} --reverse-sync --dry-run",
                      f"gpumigrate ops {prof} --reverse-sync"])
        for spec in specs:
            sync.commands.append(f"# {spec.src} -> {spec.dst}")
        items.append(sync)
    else:
        items.append(RollbackItem("transfer", "Transfer: no [[transfer]] entries; no data to bring back"))


    resume = RollbackItem("cutover", "Resume the workload on the source", gate=True,
                          note="Start the job on the source from its last checkpoint (now including what ran on "
                               "the target) and watch one full step before going on: the endpoint switches "
                               "only once the source is back.")
    if src.provider == "aws" and ops.source_instance_id:
        iid = _q(ops.source_instance_id)
        resume.commands = [f"aws ec2 start-instances --instance-ids {iid}{region}",
                           f"aws ec2 wait instance-status-ok --instance-ids {iid}{region}"]
    items.append(resume)

    switch = RollbackItem("cutover", "Switch the endpoint back to the source")
    if ops.dns_record and ops.source_endpoint:
        rtype = "A" if _is_ip(ops.source_endpoint) else "CNAME"
        value = ops.source_endpoint if rtype == "A" or ops.source_endpoint.endswith(".") \
            else ops.source_endpoint + "."
        record = ops.dns_record if ops.dns_record.endswith(".") else ops.dns_record + "."
        if ops.endpoint_dns == "cloud-dns" and ops.dns_zone:
            switch.commands = [
                f"gcloud dns record-sets update {_q(record)} --zone={_q(ops.dns_zone)} --type={rtype} "
                f"--ttl={ops.dns_ttl_s} --rrdatas={_q(value)}{project}",
                f"gcloud dns record-sets describe {_q(record)} --zone={_q(ops.dns_zone)} --type={rtype}{project}",
            ]
        elif ops.endpoint_dns == "route53" and ops.dns_zone:
            batch = {"Comment": "gpumigrate rollback", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": record, "Type": rtype, "TTL": ops.dns_ttl_s, "ResourceRecords": [{"Value": value}]}}]}
            switch.commands = [
                f"aws route53 change-resource-record-sets --hosted-zone-id {_q(ops.dns_zone)} "
                f"--change-batch {_q(json.dumps(batch, separators=(',', ':')))}",
                f"aws route53 list-resource-record-sets --hosted-zone-id {_q(ops.dns_zone)} "
                f"--query {_q(f'ResourceRecordSets[?Name==`{record}`]')}",
            ]
        else:
            switch.note = f"Point {record} back at {value} ({rtype}) wherever the record is managed."
        switch.note = (switch.note + " " if switch.note else "") + \
            f"Clients follow within the record's TTL ({ops.dns_ttl_s} s once lowered)."
    else:
        switch.note = ("Point clients (DNS, load balancer, job scheduler) back at the source. Set [ops].dns_record, "
                       "[ops].source_endpoint, [ops].endpoint_dns and [ops].dns_zone to get the exact commands.")
    items.append(switch)

    items.append(RollbackItem("drivers", "Drivers: nothing more to undo",
                              note="The driver/CUDA setup only changed the target, which was stopped above "
                                   "(its disks are kept until the rollback is signed off)."))

    items.append(RollbackItem("verify", "Verify: nothing to undo", note="The verify step only measures."))

    from engine.ops.budget import display_name as budget_display_name

    cleanup = RollbackItem("ops", "Remove the day-two guards of the target",
                           note="Alert policies and the budget are labelled with "
                                f"{migration_label(profile)!r}; remove them once the target is gone.")
    if tgt.project:
        cleanup.commands.append(
            f"gcloud alpha monitoring policies list{project} "
            f"--filter={_q(f'user_labels.gpumigrate={migration_label(profile)}')} --format='value(name)' "
            f"| xargs -r -n1 gcloud alpha monitoring policies delete --quiet{project}")
    if ops.billing_account:
        cleanup.commands.append(
            f"gcloud billing budgets list --billing-account={_q(ops.billing_account)} "
            f"--filter={_q('displayName=' + chr(34) + budget_display_name(profile) + chr(34))} "
            "--format='value(name)' "
            f"| xargs -r -n1 gcloud billing budgets delete --quiet")
    items.append(cleanup)
    return items


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def render_markdown(profile: "Profile", profile_path: Path | None = None) -> str:
    items = rollback_items(profile, profile_path)
    name = profile.name or "this migration"
    lines = [f"# Rollback plan: {name}", "",
             "Carry these out in order. Items marked **gate** wait for a person to confirm before going on.",
             "", "| # | undoes step | what | gate |", "|---|---|---|---|"]
    for i, item in enumerate(items, 1):
        lines.append(f"| {i} | {item.step} | {item.title} | {'gate' if item.gate else ''} |")
    for i, item in enumerate(items, 1):
        lines += ["", f"## {i}. {item.title}{' (gate)' if item.gate else ''}", "", f"Undoes: `{item.step}`."]
        if item.note:
            lines += ["", item.note]
        if item.commands:
            lines += ["", "```bash", *item.commands, "```"]
    specs = reverse_specs(profile)
    if specs:
        lines += ["", "## Reverse transfers", "", "| from (target) | to (source) | checksum |", "|---|---|---|"]
        lines += [f"| `{s.src}` | `{s.dst}` | {'yes' if s.checksum else 'size+mtime'} |" for s in specs]
    lines += ["", "## After sign-off (not part of a rollback)", "",
              "Only once the target is signed off: stop the source and, later, delete the source copies."]
    return "\n".join(lines) + "\n"


def runbook_items(profile: "Profile", profile_path: Path | None = None) -> list[dict[str, Any]]:
    """Items in the shape of ``[cutover].runbook`` entries (title, gate, rollback)."""
    return [{"title": f"Rollback {i}: {item.title}", "gate": item.gate,
             "rollback": "\n".join(item.commands) or item.note}
            for i, item in enumerate(rollback_items(profile, profile_path), 1)]


def reverse_sync(profile: "Profile", *, emit: Emit = discard, base_dir: Path | None = None,
                 dry_run: bool = False, cancel: Any = None, step: str = "ops") -> list[dict[str, Any]]:
    """Run every reversed transfer through the transfer engine; one summary per entry
    (``ok`` False when an object failed).  A cancel raises :class:`Interrupted`."""
    from engine.errors import Interrupted
    from engine.transfer.api import run_transfer

    results = []
    for spec in reverse_specs(profile):
        emit(Message(step, text=f"reverse sync {spec.src} -> {spec.dst}{' (dry run)' if dry_run else ''}"))
        summary = run_transfer(spec, emit=emit, base_dir=base_dir, dry_run=dry_run, cancel=cancel)
        if getattr(summary, "interrupted", False):
            raise Interrupted("reverse sync interrupted; run the same command again to resume")
        data = summary.to_event() if hasattr(summary, "to_event") else {}
        data.pop("event", None)
        results.append({"src": spec.src, "dst": spec.dst, "ok": bool(summary.ok), "summary": data,
                        "line": summary.line() if hasattr(summary, "line") else ""})
    return results
