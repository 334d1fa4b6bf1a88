"""``codeintel models``: print the backbone registry."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the registered backbones")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.backbones.table import BACKBONES, format_table
    from codeintel.tasks.models import supported_tasks

    if args.json:
        import json

        print(json.dumps([{"name": s.name, "family": s.family, "params": s.params, "hub_id": s.hf_id,
                           "source_len": s.source_len, "target_len": s.target_len, "tasks": list(supported_tasks(s))}
                          for s in BACKBONES.values()], indent=2))
        return 0

    print(format_table({"tasks": lambda spec: ",".join(supported_tasks(spec))}))
    print("\nAlso accepted: any hub id (owner/name) of these families, or a local save_pretrained directory.")
    return 0
