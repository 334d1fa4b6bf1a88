"""codeintel's ``rouge_l`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class RougeL(evaluate.Metric):
    def _info(self):
        return info_for("rouge_l")

    def _compute(self, predictions, references):
        return compute_for("rouge_l", predictions, references)
