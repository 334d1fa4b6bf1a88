"""codeintel's ``exact_match`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class ExactMatch(evaluate.Metric):
    def _info(self):
        return info_for("exact_match")

    def _compute(self, predictions, references):
        return compute_for("exact_match", predictions, references)
