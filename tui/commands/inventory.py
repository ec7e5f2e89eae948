"""``gpumigrate inventory``: GPUs here, AWS GPU instances and buckets, local data, images; and a target."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inventory", help="what runs where today (GPUs, AWS, data, images) and what it should run on")
    p.add_argument("--profile", "-p", help="profile whose [inventory], [source] and [workload] to use")
    p.add_argument("--aws-region", action="append", default=[], metavar="R",
                   help="AWS region to scan for GPU instances (repeatable; overrides inventory.aws_regions)")
    p.add_argument("--json", action="store_true", help="NDJSON events, then one line with the whole inventory")
    p.add_argument("--verbose", "-v", action="store_true", help="also print debug messages and every item found")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.errors import ExitCode
    from engine.inventory.scan import run_inventory, summary_line
    from engine.profile import Profile, SourceSection, load_profile
    from tui.output import make_sink, print_json, report_output, say_closed

    if args.profile:
        profile = load_profile(args.profile)
        base = Path(args.profile).resolve().parent
    else:
        profile = Profile(source=SourceSection(provider="local"))
        base = Path.cwd()
    regions = list(dict.fromkeys(args.aws_region)) or None
    if regions:
        import re

        from engine.errors import BadInputError
        from engine.model_base import REGION_PATTERN

        bad = [r for r in regions if not re.match(REGION_PATTERN, r)]
        if bad:
            raise BadInputError(f"--aws-region: not a region name: {', '.join(bad)} (e.g. us-east-1)")
    sink = make_sink(args.json, verbose=args.verbose)
    sink.on_closed = lambda: None  # `| head -1`: the scan (read-only) runs to its end; its result goes to stderr
    try:
        inv = run_inventory(profile, base_dir=base, emit=sink, regions=regions)
    finally:
        sink.close()
    # what AWS refused or failed to answer, a local folder the profile names that is not there
    incomplete = (inv.aws is not None and bool(inv.aws.errors)) or bool(inv.missing_dirs())
    code = ExitCode.ENVIRONMENT if inv.aws_problem else ExitCode.FAILED if incomplete else ExitCode.OK
    with report_output(already_closed=sink.closed) as out:
        if args.json:
            print_json({"event": "inventory", "summary": summary_line(inv), "inventory": inv.model_dump(mode="json"),
                        "exit_code": int(code)})
        else:
            _print_report(inv)
    if out.closed:
        say_closed(f"{summary_line(inv)} (exit {int(code)})")
    if inv.aws_problem:
        print(f"gpumigrate: AWS: {inv.aws_problem}", file=sys.stderr)
    return int(code)


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PiB"


def _print_report(inv: object) -> None:
    from rich.table import Table

    from engine.inventory.scan import Inventory
    from tui.output import console

    assert isinstance(inv, Inventory)
    out = console(highlight=False)
    if inv.host is not None:
        if not inv.host.available:
            out.print(f"[bold]GPUs on this host[/]: {inv.host.reason}")
        else:
            out.print(f"[bold]GPUs on this host[/]: {inv.host.summary()}")
            t = Table("#", "name", "memory", "CC", "PCIe", "MIG", "ECC (vol. unc.)", "temp", "power", "util")
            for g in inv.host.gpus:
                mem = f"{_bytes(g.memory_used_bytes or 0)} / {_bytes(g.memory_total_bytes or 0)}"
                pcie = f"gen{g.pcie_gen_current}/{g.pcie_gen_max} x{g.pcie_width_current}" if g.pcie_gen_max else "-"
                mig = "-" if g.mig_mode_current is None else ("on: " + ", ".join(
                    m.profile or "?" for m in g.mig_instances) if g.mig_mode_current else "off")
                name = "LOST (NVML: GPU is lost)" if g.lost else g.name or "?"
                t.add_row(str(g.index), name, mem, g.compute_capability or "-", pcie, mig,
                          "-" if g.ecc.volatile_uncorrected is None else str(g.ecc.volatile_uncorrected),
                          "-" if g.temperature_c is None else f"{g.temperature_c} °C",
                          "-" if g.power_draw_w is None else f"{g.power_draw_w:.0f}/{g.power_limit_w or 0:.0f} W",
                          "-" if g.utilization_gpu_pct is None else f"{g.utilization_gpu_pct}%")
            out.print(t)
            if len(inv.host.gpus) > 1:
                out.print(inv.host.topology.render(), markup=False)
    if inv.aws is not None:
        if inv.aws.regions:
            t = Table("region", "instance", "type", "GPUs", "state", "AZ", "EBS", "name", title="AWS GPU instances")
            for i in inv.aws.instances:
                gpus = f"{i.gpu.gpu_count}x {i.gpu.gpu_model}" if i.gpu and i.gpu.gpu_count else "?"
                ebs = "?" if inv.aws.volumes_unread(i.region) else f"{i.ebs_gib} GiB"  # not read: not 0
                t.add_row(i.region, i.instance_id, i.instance_type, gpus, i.state, i.availability_zone or "-", ebs,
                          i.name)
            out.print(t)
        if inv.aws.buckets:
            t = Table("bucket", "prefix", "objects", "size", "how", title="S3 buckets")
            for b in inv.aws.buckets:
                if b.error:
                    t.add_row(b.bucket, "", "", "", f"[red]{b.error}[/]")
                for p in b.prefixes:
                    t.add_row(b.bucket, p.prefix or "(all)", f"{p.objects:,}", _bytes(p.bytes),
                              p.method + (f" — {p.note}" if p.note else ""))
            out.print(t)
    if inv.aws_problem:
        out.print(f"[red]AWS not scanned[/]: {inv.aws_problem}")
    if inv.aws is not None and inv.aws.errors:
        out.print("[red]AWS INCOMPLETE[/]: the lists above hold only what could be read", highlight=False)
        for where, why in inv.aws.errors.items():
            out.print(f"  {where}: {why}", markup=False)
    for d in inv.local_dirs:
        if not d.exists:
            out.print(f"[bold]{d.path}[/]: [red]does not exist[/] ({d.resolved})")
            continue
        out.print(f"[bold]{d.path}[/]: {d.files:,} files, {_bytes(d.bytes)}")
        for rel, size in d.largest[:5]:
            out.print(f"    {_bytes(size):>12}  {rel}", markup=False)
    if inv.images is not None:
        t = Table("file:line", "image", "registry", "kind", title="Container images")
        for r in inv.images.images:
            t.add_row(f"{r.file}:{r.line}", r.image, r.registry, r.registry_kind)
        out.print(t)
    if inv.sizing is not None:
        s = inv.sizing
        out.print(f"[bold]Sizing[/] ({s.workload.kind}, source {s.source.gpu_count}x "
                  f"{s.source.gpu_model or '?'}"
                  + (f" MIG {s.source.mig_instance} ({s.source.gpu_memory_gib:.2f} GiB)"
                     if s.source.mig_instance else "")
                  + f" from {s.source.origin})")
        out.print(f"  rule: {s.estimate.rule}", markup=False)
        for line in s.estimate.lines:
            out.print(f"    {line}", markup=False)
        if s.ranking:
            out.print(f"  {s.ranking}", markup=False)
        for r in s.recommendations:
            price = f" ${r.hourly_usd:,.2f}/h" if r.hourly_usd is not None else " (no catalog price)"
            hosts = f"{r.hosts} × " if r.hosts > 1 else ""
            run = f", ${r.cost_per_run_usd:,.2f} per run" if r.cost_per_run_usd is not None else ""
            out.print(f"  {r.rank}. [bold]{hosts}{r.machine_type}[/] ({r.gpu_count}x {r.gpu_model}){price}{run}")
            out.print(f"     {r.reason}", markup=False)
            for w in r.warnings:
                out.print(f"     ⚠ {w}", style="yellow", markup=False)
        for w in s.warnings:
            out.print(f"  ⚠ {w}", style="yellow", markup=False)
    for note in inv.notes:
        out.print(f"  {note}", markup=False)
