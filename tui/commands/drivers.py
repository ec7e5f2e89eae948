"""``gpumigrate drivers PROFILE`` (plan and render) and ``gpumigrate drivers doctor`` (this machine).

One positional picks the mode: ``doctor`` runs the doctor, anything else is a
profile path (a profile literally named ``doctor`` is reached as ``./doctor``).
"""

from __future__ import annotations

import argparse
import sys

from tui.argtypes import bounded

EMIT_CHOICES = ("startup-script", "gcloud", "terraform", "dockerfile", "k8s")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "drivers",
        help="driver/CUDA/framework plan and setup scripts for the target; `drivers doctor` checks this machine",
        description="gpumigrate drivers PROFILE [--emit KIND] [--out DIR]   |   gpumigrate drivers doctor [--json]",
    )
    # named ``profile`` so a --profile given before the command fills it (`gpumigrate --profile P drivers`), as
    # it does for cost, verify, replay and ops (tui.cli._profile_optional); it exited 2 when it was ``target``
    p.add_argument("profile", metavar="PROFILE|doctor",
                   help="a profile to plan and render, or `doctor` to diagnose this machine")
    p.add_argument("--emit", choices=EMIT_CHOICES, help="print (or with --out, write) only this artefact")
    p.add_argument("--out", help="write the artefacts into this folder")
    p.add_argument("--json", action="store_true", help="one JSON document instead of text")
    p.add_argument("--from", dest="from_dir", metavar="DIR",
                   help="doctor: diagnose outputs recorded with --record instead of this machine")
    p.add_argument("--record", metavar="DIR", help="doctor: also save this machine's outputs into DIR")
    p.add_argument("--explain", metavar="ERROR", action="append", default=[],
                   help="doctor: explain a runtime error message (repeatable)")
    p.add_argument("--timeout", type=bounded(0.1, 3_600), default=10.0, help="doctor: seconds allowed per probe (default 10)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.errors import BadInputError

    if args.profile == "doctor":
        if args.emit or args.out:
            raise BadInputError("--emit and --out go with a PROFILE, not with `doctor`")
        return _doctor(args)
    if args.from_dir or args.record or args.explain:
        raise BadInputError("--from, --record and --explain go with `drivers doctor`")
    return _plan(args)


_MARK = {"green": "✓", "amber": "!", "red": "✗"}


def _doctor(args: argparse.Namespace) -> int:
    from engine.drivers import compat, detect
    from engine.errors import ExitCode
    from tui.output import print_json, report_output, say_closed

    if args.timeout <= 0:
        from engine.errors import BadInputError

        raise BadInputError("--timeout must be > 0")
    if args.from_dir and args.record:
        from engine.errors import BadInputError

        raise BadInputError("--from and --record cannot be combined")
    if args.from_dir:
        from pathlib import Path

        if not Path(args.from_dir).is_dir():
            from engine.errors import BadInputError

            raise BadInputError(f"--from {args.from_dir}: not a folder")
        state = detect.detect_recorded(args.from_dir, timeout=args.timeout)
    elif args.record:
        state = detect.record(args.record, timeout=args.timeout)
    else:
        state = detect.detect(timeout=args.timeout)
    state["errors_to_explain"] = list(args.explain)
    findings = compat.diagnose(state)
    status = compat.worst(findings)
    # No NVIDIA GPU here (none on the PCI bus either): the stack was not checked, and a script that runs the
    # doctor on a target must not read exit 0 as "the drivers are fine" (it did, with status amber).
    unchecked = next((f for f in findings if f.code in ("no-gpu", "gpu-not-seen")), None)
    code = int(ExitCode.FAILED) if status == "red" or unchecked is not None else int(ExitCode.OK)
    with report_output() as out:  # `| head -1`: the diagnosis was made; only its printing ends early
        if args.json:
            print_json({"status": status, "checked": unchecked is None, "findings": [f.to_dict() for f in findings],
                        "state": state})
        else:
            for f in findings:
                print(f"{_MARK[f.status]} {f.status:5} {f.component:13} {f.reason}")
                if f.fix and f.status != "green":
                    print(f"{'':21}fix: {f.fix}")
            absent = [p["name"] for p in state["probes"] if p["status"] in ("absent", "timeout")]
            if absent:
                print(f"  not found here: {', '.join(absent)}")
            if args.record:
                print(f"  recorded into {args.record} (diagnose it anywhere with --from {args.record})")
            print(f"doctor: {status}" + ("" if unchecked is None else "; not checked: " + (
                "no NVIDIA GPU on this machine" if unchecked.code == "no-gpu" else
                "no NVIDIA driver answers and the PCI bus was not read: whether a GPU is here is not known") + " (exit 1)"))
    if out.closed:
        say_closed(f"doctor: {status}" + ("" if unchecked is None else "; not checked") + f" (exit {code})")
    return code


def _plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.drivers import render
    from engine.errors import ExitCode
    from engine.profile import load_profile
    from tui.output import print_json, report_output, say_closed

    profile_path = Path(args.profile)
    profile = load_profile(profile_path)
    plan = render.plan_for_profile(profile)
    kinds = (args.emit,) if args.emit else render.EMIT_KINDS
    artefacts, files = render.render_all(profile, plan, base_dir=profile_path.resolve().parent, kinds=kinds)
    written = [str(p) for p in render.write_artefacts(artefacts, files, Path(args.out))] if args.out else []
    code = int(ExitCode.FAILED) if plan.status == "red" else int(ExitCode.OK)

    def show() -> None:
        if args.json:
            print_json({"plan": {**plan.to_dict(), "container_image": render.container_image(plan)}, "written": written,
                        "artefacts": [{"kind": a.kind, "filename": a.filename, "language": a.language,
                                       **({"text": a.text} if not args.out else {})} for a in artefacts]})
            return
        if args.emit and not args.out:
            sys.stdout.write(artefacts[0].text)
            return
        print(f"plan for {plan.gpu or 'the target'} on {plan.os_image}: driver R{plan.driver_branch} "
              f"({plan.driver_flavour} modules), CUDA {plan.cuda}"
              + (f", {plan.framework} {plan.framework_version} ({plan.wheel})" if plan.wheel else ""))
        for f in plan.findings:
            print(f"{_MARK[f.status]} {f.status:5} {f.component:10} {f.reason}")
            if f.fix and f.status != "green":
                print(f"{'':18}fix: {f.fix}")
        print(f"  container base: {render.container_words(plan)}")
        if written:
            for path in written:
                print(f"  wrote {path}")
        else:
            print("  artefacts: " + ", ".join(a.filename for a in artefacts)
                  + " (print one with --emit KIND, write them with --out DIR)")

    with report_output() as out:  # `| head -1`: the plan was made; only its printing ends early
        show()
    if out.closed:
        say_closed(f"plan {plan.status} (exit {code})")
    return code
