"""``codeintel tasks``: the task cards — name, type, data formats, metrics with their scales, default data."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list the task cards (type, data formats, metrics, default data)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def describe() -> list[dict]:
    """One entry per task card."""
    from codeintel.eval.metrics import SCALES
    from codeintel.tasks.cards import all_cards, checked
    from codeintel.tasks.types import task_type

    cards = [checked(c) for c in all_cards().values()]
    return [{"name": c.name, "type": c.type, "formats": task_type(c.type).data_format,
             "metrics": {m: SCALES[m] for m in c.metrics}, "selects_by": c.select_by,
             "default_data": c.data or None, "lang": c.lang or None, "card": c.path,
             "columns": {f"data.{k}": v for k, v in task_type(c.type).columns.items()}}
            for c in cards]


def run(args: argparse.Namespace) -> int:
    import json

    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        metrics = ", ".join(f"{m} ({s})" for m, s in r["metrics"].items())
        print(f"{r['name']}  [{r['type']}]  metrics: {metrics}; default data: {r['default_data'] or 'none (--data)'}")
        print(f"    --data: {r['formats']}")
        if r["columns"]:
            mapping = ", ".join(f"{k}=COLUMN (for {v})" for k, v in r["columns"].items())
            print(f"    columns: {mapping}; files: jsonl, json, csv, tsv, parquet")
    return 0
