"""codeintel's ``precision_recall_f1`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class PrecisionRecallF1(evaluate.Metric):
    def _info(self):
        return info_for("precision_recall_f1")

    def _compute(self, predictions, references):
        return compute_for("precision_recall_f1", predictions, references)
