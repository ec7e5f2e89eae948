"""``gpumigrate init FILE``: a starting profile from what this machine can find.

Never waits on stdin (it runs in scripts and on jump hosts): every choice is a flag, and a choice
left open is written as a ``# decide:`` comment.  The file is validated before it is written and is
never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import sys

from tui.argtypes import bounded


def _hourly_usd(text: str) -> float:
    """--hourly-usd, bounded like the profile field; the cost model is imported only when the flag
    is given (every `gpumigrate` command builds this parser; a transfer has no use for it)."""
    from engine.cost.section import MAX_HOURLY_USD

    return bounded(0, MAX_HOURLY_USD, above=True)(text)  # type: ignore[no-any-return]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a starting profile from what this machine can find (GPUs, AWS, data)")
    p.add_argument("file", help="the profile to write (e.g. migration.toml)")
    p.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                   help="a local data directory to size and move (repeatable)")
    p.add_argument("--aws-region", action="append", default=[], metavar="R",
                   help="AWS region to search for GPU instances (repeatable; default: the configured region)")
    p.add_argument("--bucket", action="append", default=[], metavar="NAME",
                   help="an S3 bucket to move (repeatable; every visible bucket is listed in the header)")
    p.add_argument("--dest", metavar="gs://BUCKET[/PREFIX]",
                   help="where the data goes: each --data-dir and --bucket becomes a [[transfer]] entry under it")
    p.add_argument("--provider", choices=["aws", "azure", "gcp", "local", "other"], help="where it runs today")
    p.add_argument("--instance-type", help="the source instance type (e.g. p3.2xlarge)")
    p.add_argument("--gpu-model", help="the source GPU model (e.g. V100), when it cannot be found")
    p.add_argument("--gpu-count", type=bounded(0, 64, integer=True), help="GPUs per source instance")
    p.add_argument("--hourly-usd", type=_hourly_usd, help="what the source costs an hour (when no catalog price applies)")
    p.add_argument("--target-region", default="us-central1", help="the Google Cloud region (default us-central1)")
    p.add_argument("--project", help="the Google Cloud project id")
    p.add_argument("--pricing", choices=["on-demand", "spot", "cud-1y", "cud-3y"], help="how the target is paid for")
    p.add_argument("--name", help="a label for this migration")
    p.add_argument("--no-gpus", action="store_true", help="do not look at this machine's GPUs")
    p.add_argument("--no-aws", action="store_true", help="do not look at AWS even when credentials exist")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(handler=run)


FLAGS = {"source.provider": "--provider", "source.instance_type": "--instance-type", "source.gpu_model": "--gpu-model",
         "source.gpu_count": "--gpu-count", "source.hourly_usd": "--hourly-usd", "source.region": "--aws-region",
         "target.region": "--target-region", "target.project": "--project", "target.pricing": "--pricing",
         "name": "--name", "inventory.local_dirs": "--data-dir", "inventory.aws_regions": "--aws-region",
         "inventory.buckets": "--bucket", "transfer": "--dest"}
"""The flag that set a profile field, named after a problem with it."""


def _with_flag(problem: str) -> str:
    """``m.toml: not written: source.gpu_count: ...`` + `` (--gpu-count)`` where a flag set that field."""
    import re

    match = re.match(r"^.*?: not written: ([\w.\[\]]+): ", problem)
    field = re.sub(r"\[\d+\].*$", "", match.group(1)) if match else ""
    return f"{problem} ({FLAGS[field]})" if field in FLAGS else problem


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pydantic import ValidationError

    from engine.errors import BadInputError
    from engine.profile import ProfileError
    from engine.inventory.discover import InitChoices, describe, write_starting_profile
    from engine.profile import _dotted, _friendly

    target = Path(args.file)
    try:
        choices = InitChoices(name=args.name, provider=args.provider, instance_type=args.instance_type,
                              gpu_model=args.gpu_model, gpu_count=args.gpu_count, hourly_usd=args.hourly_usd,
                              target_region=args.target_region, project=args.project, pricing=args.pricing,
                              destination=args.dest, buckets=args.bucket, source_region=(args.aws_region or [None])[0])
        found = write_starting_profile(target, choices, data_dirs=args.data_dir, regions=args.aws_region,
                                       scan_gpus=not args.no_gpus, scan_aws=not args.no_aws, force=args.force)
    except ValidationError as exc:
        raise BadInputError("\n".join(f"{target}: {_dotted(e['loc'])}: {_friendly(e)}  (check the flags)"
                                      for e in exc.errors())) from None
    except ProfileError as exc:  # what the flags (or what was found) would write does not load
        raise ProfileError([_with_flag(p) for p in exc.problems]) from None
    except FileExistsError as exc:
        raise BadInputError(f"{exc} (it appeared while gpumigrate looked around); pass --force to replace it") from None
    for line in describe(found):
        print(line)
    print(f"wrote {target}: `gpumigrate validate {target}` checks it, `gpumigrate --profile {target}` walks it",
          file=sys.stdout)
    return 0
