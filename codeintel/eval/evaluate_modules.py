"""Glue between the metric functions and the ``evaluate`` modules in the hub's ``eval/`` folder.

``evaluate.load(str(hub_path("eval", "smoothed_bleu")))`` loads a metric offline; each module there is
a thin ``evaluate.Metric`` that calls :func:`info_for` and :func:`compute_for`.
"""

from __future__ import annotations

from typing import Any

from codeintel.eval import metrics

_STR, _INT = "string", "int64"


def _features(name: str):
    import datasets

    v, seq = datasets.Value, datasets.Sequence
    return {
        "smoothed_bleu": {"predictions": v(_STR), "references": seq(v(_STR))},
        "rouge_l": {"predictions": v(_STR), "references": seq(v(_STR))},
        "exact_match": {"predictions": v(_STR), "references": v(_STR)},
        "xmatch": {"predictions": v(_STR), "references": v(_STR)},
        "bleu": {"predictions": v(_STR), "references": seq(v(_STR))},
        "codebleu": {"predictions": v(_STR), "references": seq(v(_STR))},
        "accuracy": {"predictions": v(_STR), "references": v(_STR)},
        "precision_recall_f1": {"predictions": v(_INT), "references": v(_INT)},
        "map_at_r": {"predictions": seq(v(_STR)), "references": seq(v(_STR))},
        "mrr": {"predictions": seq(v("float64")), "references": v(_INT)},
    }[name]


# one reference per prediction, or a list of them (as HF's bleu)
MANY_REFERENCES = ("smoothed_bleu", "rouge_l", "bleu", "codebleu")


def info_for(name: str):
    import datasets
    import evaluate

    metric = metrics.get_metric(name)
    features = datasets.Features(_features(name))
    if name in MANY_REFERENCES:  # evaluate picks the schema the inputs match
        single = datasets.Features({"predictions": datasets.Value(_STR), "references": datasets.Value(_STR)})
        features = [features, single]
    return evaluate.MetricInfo(description=metric.description, citation="", inputs_description=metric.fn.__doc__ or "",
                               features=features)


def compute_for(name: str, predictions: list, references: list, **kwargs: Any) -> dict[str, Any]:
    """Compute ``name`` on evaluate's column inputs and return a dict of floats."""
    if name == "map_at_r":
        preds = {str(i): p for i, p in enumerate(predictions)}
        answers = {str(i): r for i, r in enumerate(references)}
        return {"map_at_r": metrics.map_at_r(preds, answers)}
    if name == "mrr":
        return {"mrr": metrics.mrr(predictions, references)}
    if name in MANY_REFERENCES:
        references = [[r] if isinstance(r, str) else list(r) for r in references]
    if name == "codebleu":
        from codeintel.eval.codebleu import codebleu

        return codebleu(predictions, references, **kwargs)
    out = metrics.compute_metric(name, predictions, references, **kwargs)
    return out if isinstance(out, dict) else {name: out}
