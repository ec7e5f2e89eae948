"""GPU health through NVML (and `dcgmi diag` where installed).

Passes when: the expected number of GPUs is present with the expected model
and memory; no uncorrectable ECC errors, no retired page or row remap
pending, no failed remap, no GPU that could not be opened (NVML reports a
lost GPU - the XID 79 "fallen off the bus" case - as one it cannot open);
each PCIe link runs at its full width and supports the expected generation
(the current generation drops at idle to save power, so the maximum is
compared); persistence mode on; no clock event reason that means a thermal,
power-brake or hardware slowdown; the MIG layout as planned; and, when
asked for, every `dcgmi diag` test passed; and no hardware XID error in the
kernel log (:mod:`engine.verify.checks.xid`).
"""

from __future__ import annotations

from typing import Any

from engine.drivers.runtime import driver_runs_cuda
from engine.drivers.versions import branch_of, major_minor
from engine.gpus.names import same_gpu
from engine.verify.checks import dcgm, xid
from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict
from engine.verify.checks.nvml_host import host as read_gpus

RULE_READS = ("name", "memory", "pcie link", "persistence mode", "MIG", "ECC", "retired pages", "remapped rows",
              "clock event reasons")
"""The NVML readings (note prefixes, see engine.inventory.nvml) the rules below judge: one that failed leaves a
rule unchecked, so the verdict cannot be PASS (a temperature or power reading that failed judges nothing)."""

NAME = "gpu_health"
TITLE = "GPU health"
MEASURES = "GPU count, model, memory, ECC, retired pages / row remaps, PCIe link, persistence, clocks, MIG (NVML)"


def measure(ctx: CheckContext) -> dict[str, Any]:
    host = read_gpus(ctx)
    gpus = []
    for gpu in host.gpus:
        gpus.append({
            "index": gpu.index, "name": gpu.name, "memory_gib": None if gpu.memory_total_gib is None
            else round(gpu.memory_total_gib, 2),
            "ecc_volatile_uncorrected": gpu.ecc.volatile_uncorrected,
            "ecc_volatile_corrected": gpu.ecc.volatile_corrected,
            "retired_pages_pending": gpu.retired_pages_pending,
            "retired_pages_double_bit": gpu.retired_pages_double_bit,
            "retired_pages_single_bit": gpu.retired_pages_single_bit,
            "ecc_aggregate_uncorrected": gpu.ecc.aggregate_uncorrected,
            "remap_pending": None if gpu.remapped_rows is None else gpu.remapped_rows.pending,
            "remap_failure": None if gpu.remapped_rows is None else gpu.remapped_rows.failure,
            "pcie_gen": [gpu.pcie_gen_current, gpu.pcie_gen_max],
            "pcie_width": [gpu.pcie_width_current, gpu.pcie_width_max],
            "persistence_mode": gpu.persistence_mode,
            "clock_event_reasons": gpu.clock_event_reasons,
            "bad_clock_event_reasons": gpu.bad_clock_event_reasons,
            "temperature_c": gpu.temperature_c,
            "mig_enabled": gpu.mig_mode_current,
            "mig_pending": gpu.mig_mode_pending,
            "mig_profiles": [m.profile for m in gpu.mig_instances],
            "notes": gpu.notes,
            "lost": gpu.lost,
            "faults": gpu.faults,
        })
    figures: dict[str, Any] = {"count": len(gpus), "driver": host.driver_version,
                               "cuda": host.cuda_driver_version, "gpus": gpus, "xid": _xids(ctx)}
    level = ctx.section.gpu.dcgm_level
    if level:
        if dcgm.available():
            try:
                diag = dcgm.run_diag(level, ctx.section.gpu.dcgm_timeout_s, ctx.base_dir, ctx.cancel)
            except ValueError as exc:
                raise CheckError("dcgmi diag gave no usable result", str(exc)) from None
            figures["dcgm"] = {"level": level, "tests": [list(t) for t in diag.tests]}
            figures["_output"] = diag.transcript
        else:
            figures["dcgm"] = {"level": level, "skipped": "dcgmi is not installed on this machine"}
    return figures


def _xids(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.gpu
    text, source = xid.read_kernel_log(cfg.xid_since_hours, ctx.base_dir, ctx.cancel,
                                       ctx.path(cfg.xid_log) if cfg.xid_log else None)
    if text is None:
        return {"unreadable": source}
    return {"source": source, "events": [{"pci": e.pci, "code": e.code, "meaning": e.meaning,
                                          "hardware": e.hardware, "line": e.line}
                                         for e in xid.parse_xids(text)][-200:]}


def _driver_rule(plan: Any, driver: str | None, rules: list[str], problems: list[str],
                 notes: list[str]) -> list[str]:
    """The installed driver against the CUDA the drivers plan installs (returns the reading it lacked, if any).

    A driver older than the planned CUDA fails every CUDA call of the planned framework ("The NVIDIA driver on
    your system is too old"), however healthy the GPU: it was a PASS.  Another branch that still runs it is said.
    """
    cuda = major_minor(plan.cuda) if plan is not None and plan.cuda else None
    if cuda is None:
        return []
    rules.append(f"driver runs CUDA {plan.cuda} (the drivers plan)")
    if not driver:
        return ["the driver version could not be read (the drivers plan's CUDA not checked)"]
    verdict = driver_runs_cuda(driver, cuda)
    build = ", ".join(w for w in (" ".join(x for x in (plan.framework, plan.framework_version) if x)
                                  if plan.framework not in (None, "none") else "", plan.wheel or "") if w)
    if not verdict.ok:
        problems.append(f"driver {driver} cannot run the planned CUDA {plan.cuda}"
                        + (f" ({build})" if build else "") + f": {verdict.reason}; install the planned "
                        f"R{plan.driver_branch} driver (`gpumigrate drivers PROFILE --emit startup-script`)")
        return []
    branch = branch_of(driver)
    if branch is not None and branch != plan.driver_branch:
        notes.append(f"driver {driver}: installed R{branch}, the plan's R{plan.driver_branch} (it runs CUDA "
                     f"{plan.cuda}: {verdict.mode})")
    if verdict.mode != "native":
        notes.append(verdict.reason)
    return []


def _unplanned_mig(gpus: list[dict[str, Any]]) -> list[str]:
    """MIG on (or turning on at the next reset) where the profile plans whole GPUs.

    With MIG on, CUDA sees the GPU's MIG slices, or no device at all when none is created: not the planned GPU,
    however healthy.  ``[verify.gpu] mig_profiles`` plans a layout (then the layout is judged instead)."""
    out = []
    for gpu in gpus:
        tag = f"GPU{gpu['index']}"
        fix = (f"turn it off (sudo nvidia-smi -i {gpu['index']} -mig 0, then reset the GPU) or plan the layout in "
               "[verify.gpu] mig_profiles")
        if gpu.get("mig_enabled"):
            slices = gpu.get("mig_profiles") or []
            out.append(f"{tag}: MIG mode is on and the profile plans whole GPUs (no MIG layout in [verify.gpu] "
                       "mig_profiles): CUDA sees "
                       + (f"{len(slices)} MIG slice(s) ({', '.join(p or '?' for p in slices)})"
                          if slices else "no device (no MIG instance is created)")
                       + f", not the whole GPU; {fix}")
        elif gpu.get("mig_pending"):
            out.append(f"{tag}: MIG mode turns on at the next GPU reset and the profile plans whole GPUs; {fix}")
    return out


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    cfg = ctx.section.gpu
    problems: list[str] = []
    rules: list[str] = []
    expected_count = ctx.section.expected_gpus if ctx.section.expected_gpus is not None else ctx.target_gpu_count
    if expected_count is not None:
        rules.append(f"{expected_count} GPU(s)")
        if measured["count"] != expected_count:
            problems.append(f"{measured['count']} GPU(s) present, {expected_count} expected")
    model = cfg.expected_model or ctx.target_gpu_model
    if model:
        rules.append(f"model {model!r}")
    if cfg.min_memory_gib:
        rules.append(f">= {cfg.min_memory_gib:g} GiB each")
    if cfg.pcie_gen:
        rules.append(f"PCIe gen >= {cfg.pcie_gen}")
    if cfg.pcie_width:
        rules.append(f"PCIe x{cfg.pcie_width}")
    rules.append(f"uncorrectable ECC <= {cfg.max_uncorrectable_ecc}, nothing pending a retirement or remap")
    if cfg.require_persistence:
        rules.append("persistence mode on")
    rules.append("no thermal/power/hardware clock slowdown when read (once, before the workload checks: throttling "
                 "under load is not seen here)")
    unread: list[str] = []
    notes: list[str] = []
    for gpu in measured["gpus"]:
        tag = f"GPU{gpu['index']}"
        if gpu.get("lost"):
            problems.append(f"{tag}: lost (NVML: GPU is lost; it has fallen off the bus, the XID 79 case): "
                            "drain the machine, reset or replace the GPU")
            continue
        if gpu["name"] is None:
            problems.append(f"{tag}: cannot be read ({'; '.join(gpu['notes']) or 'no name'})")
            continue
        mib = gpu["memory_gib"] * 1024 if gpu.get("memory_gib") else None
        if model and not same_gpu(gpu["name"], model, mib):
            problems.append(f"{tag}: {gpu['name']} is not the expected {model}")
        if cfg.min_memory_gib and (gpu["memory_gib"] or 0) < cfg.min_memory_gib:
            problems.append(f"{tag}: {gpu['memory_gib']} GiB memory, at least {cfg.min_memory_gib:g} GiB expected")
        problems += [f"{tag}: {fault}" for fault in gpu.get("faults") or []]
        unread += [f"{tag} {note}" for note in gpu["notes"] if note.startswith(RULE_READS)]
        unc = gpu["ecc_volatile_uncorrected"]
        if unc is None:
            notes.append(f"{tag}: NVML reports no ECC counters (ECC off or not supported): uncorrectable ECC "
                         "not checked")
        elif unc > cfg.max_uncorrectable_ecc:
            problems.append(f"{tag}: {unc} uncorrectable ECC error(s) since the driver loaded")
        elif not unc and gpu.get("ecc_aggregate_uncorrected"):  # a reboot reset the volatile counter
            notes.append(f"{tag}: {gpu['ecc_aggregate_uncorrected']} uncorrectable ECC error(s) over its life, none "
                         "since the driver loaded")
        single, double = gpu.get("retired_pages_single_bit") or 0, gpu.get("retired_pages_double_bit") or 0
        if single or double:
            notes.append(f"{tag}: {single + double} memory page(s) retired over its life ({single} after repeated "
                         f"single-bit errors, {double} after a double-bit error): not judged here "
                         "(`nvidia-smi -q -d PAGE_RETIREMENT`)")
        if gpu["retired_pages_pending"]:
            problems.append(f"{tag}: a page retirement is pending (reload the driver / reboot)")
        if gpu["remap_pending"]:
            problems.append(f"{tag}: a row remap is pending (reset the GPU)")
        if gpu["remap_failure"]:
            problems.append(f"{tag}: a row remap failed (the GPU should be replaced)")
        gen_cur, gen_max = gpu["pcie_gen"]
        width_cur, width_max = gpu["pcie_width"]
        if width_cur is not None and width_max is not None and width_cur < width_max:
            problems.append(f"{tag}: PCIe link runs at x{width_cur} of x{width_max}")
        if cfg.pcie_width and width_cur is not None and width_cur != cfg.pcie_width:
            problems.append(f"{tag}: PCIe link x{width_cur}, x{cfg.pcie_width} expected")
        if cfg.pcie_gen and gen_max is not None and gen_max < cfg.pcie_gen:
            problems.append(f"{tag}: PCIe gen {gen_max} at most, gen {cfg.pcie_gen} expected")
        if cfg.require_persistence and gpu["persistence_mode"] is False:
            problems.append(f"{tag}: persistence mode is off (nvidia-smi -pm 1)")
        if gpu["bad_clock_event_reasons"]:
            problems.append(f"{tag}: clocks held down by {', '.join(gpu['bad_clock_event_reasons'])}"
                            + (f" at {gpu['temperature_c']} °C" if gpu["temperature_c"] is not None else ""))
    unread += _driver_rule(ctx.driver_plan, measured.get("driver"), rules, problems, notes)
    if not cfg.mig_profiles:  # None, or [] (no instance planned: MIG on with none shows no CUDA device at all)
        rules.append("MIG off (no layout planned)")
        problems += _unplanned_mig(measured["gpus"])
    else:
        rules.append(f"MIG layout {sorted(cfg.mig_profiles)}")
        actual = sorted(p or "?" for g in measured["gpus"] for p in g["mig_profiles"])
        if actual != sorted(cfg.mig_profiles):
            problems.append(f"MIG layout {actual or 'none'}, planned {sorted(cfg.mig_profiles)}")
    diag = measured.get("dcgm")
    xids = measured.get("xid") or {}
    if "unreadable" in xids:
        notes.append(f"XID errors not checked: the kernel log could not be read ({xids['unreadable']})")
    elif xids:
        rules.append(f"no hardware XID in the kernel log ({xids['source']})")
        for event in xids["events"]:
            text = f"XID {event['code']} on {event['pci']}: {event['meaning']}"
            (problems if event["hardware"] else notes).append(text)
    if diag:
        if "tests" in diag:
            rules.append(f"dcgmi diag -r {diag['level']} all pass")
            for test, result, detail in diag["tests"]:
                if result == "fail":
                    problems.append(f"dcgmi {test}: fail {detail}".rstrip())
                elif result == "warn":
                    notes.append(f"dcgmi {test}: warning {detail}".rstrip())
                elif result == "skip":
                    notes.append(f"dcgmi {test}: skipped by DCGM (not run)")
        else:
            notes.append(f"dcgmi diag -r {diag['level']} not run: {diag['skipped']}")
    names = sorted({g["name"] or "?" for g in measured["gpus"]})
    uncounted = [f"GPU{g['index']}" for g in measured["gpus"] if g.get("name") is not None and not g.get("lost")
                 and g["ecc_volatile_uncorrected"] is None]
    summary = f"{measured['count']}x {', '.join(names) or 'no GPU'}: " + (
        ("healthy" + (f", but ECC errors not counted on {', '.join(uncounted)}" if uncounted else ""))
        if not problems else f"{len(problems)} problem(s)")
    if baseline and baseline.get("gpus"):
        base_names = sorted({g.get("name") or "?" for g in baseline["gpus"]})
        summary += f" (source: {baseline.get('count')}x {', '.join(base_names)})"
    if not measured["gpus"] and not problems:
        raise Skip(f"NVML (driver {measured.get('driver')}) sees no GPU on this machine: no GPU health to judge")
    if unread and not problems:
        raise Skip(f"{summary} by what NVML could read, but {len(unread)} reading(s) the rules need failed: "
                   + "; ".join(unread[:4]) + ("; ..." if len(unread) > 4 else "") + ": health not established")
    notes = [f"not read: {u}" for u in unread] + notes
    if diag and diag.get("tests") and not problems and all(t[1] == "skip" for t in diag["tests"]):
        raise Skip(f"{summary} by NVML, but dcgmi diag -r {diag['level']} skipped every one of its "
                   f"{len(diag['tests'])} test(s): the diagnostic asked for in [verify.gpu] dcgm_level did not run")
    if diag and "tests" not in diag and not problems:
        # The profile asked for DCGM's diagnostic and it did not run: healthy by NVML is not what was asked.
        raise Skip(f"{summary} by NVML, but dcgmi diag -r {diag['level']} (asked for in [verify.gpu] dcgm_level) "
                   f"did not run: {diag['skipped']}; install DCGM on the target or set dcgm_level = 0")
    return Verdict(not problems, summary, "; ".join(rules), problems + notes)
