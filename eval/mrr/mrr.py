"""codeintel's ``mrr`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class Mrr(evaluate.Metric):
    def _info(self):
        return info_for("mrr")

    def _compute(self, predictions, references):
        return compute_for("mrr", predictions, references)
