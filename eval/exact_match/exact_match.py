"""codeintel's ``exact_match`` as an ``evaluate`` module: ``evaluate.load("<hub>/eval/exact_match")`` works offline."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class ExactMatch(evaluate.Metric):
    def _info(self):
        return info_for("exact_match")

    def _compute(self, predictions, references):
        return compute_for("exact_match", predictions, references)
