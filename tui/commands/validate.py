"""``gpumigrate validate PROFILE``: check a profile; exit 2 with file:line: field: why."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a profile and report every problem with its line")
    p.add_argument("profile", nargs="?", help="the TOML profile to check")
    p.add_argument("--fields", action="store_true", help="list every profile field with its meaning")
    p.add_argument("--allow-price-fallback", action="store_true",
                   help="as cost/replay --allow-price-fallback: a region without a price is a note, not an error")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.errors import BadInputError
    from engine.profile import field_help, load_profile

    if args.fields:
        for name, kind, doc in field_help():
            print(f"{name:42} {kind:28} {doc}")
        return 0
    if not args.profile:
        raise BadInputError("validate needs a PROFILE (or --fields)")
    profile = load_profile(args.profile)
    _check_prices(profile, args.profile, args.allow_price_fallback)
    sections = [name for name in type(profile).model_fields if name in profile.model_fields_set]
    print(f"{args.profile}: ok ({len(profile.transfer)} transfer entries; sections: {', '.join(sections)})",
          file=sys.stdout)
    # "ok" is about the file; a replay still stops where a choice is missing (an init profile's
    # `# decide:` lines), so say which, as the app's step hint does.
    from engine.guide import WALK, left_to_decide

    for step in WALK:
        left = left_to_decide(profile, step)
        if left:
            print(f"  left to decide for {step}: {', '.join(left)}", file=sys.stdout)
    return 0


def _check_prices(profile, path: str, allow_fallback: bool = False) -> None:  # type: ignore[no-untyped-def]
    """What `cost` and replay's cost step would refuse (an unknown machine type without hourly_usd, a region
    with no price, ...), from the cost model's own pricing functions: exit 2 with file:line, not later at
    cost time.  With cost.allow_price_fallback, each fallback is a loud note instead."""
    from engine.catalog.load import load_catalog
    from engine.cost.check import price_problems
    from engine.profile import located_error

    problems, notes = price_problems(profile, load_catalog(), allow_fallback)
    if problems:
        raise located_error(path, [(p.field, p.message) for p in problems])
    for note in notes:
        print(f"{path}: note: {note}", file=sys.stderr)
