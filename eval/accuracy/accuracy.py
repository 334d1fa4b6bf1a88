"""codeintel's ``accuracy`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class Accuracy(evaluate.Metric):
    def _info(self):
        return info_for("accuracy")

    def _compute(self, predictions, references):
        return compute_for("accuracy", predictions, references)
