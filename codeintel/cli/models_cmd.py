"""``codeintel models``: print the backbone registry."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the registered backbones")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from codeintel.backbones.table import format_table
    from codeintel.tasks.models import supported_tasks

    print(format_table({"tasks": lambda spec: ",".join(supported_tasks(spec))}))
    print("\nAlso accepted: any hub id (owner/name) of these families, or a local save_pretrained directory.")
    return 0
