"""codeintel's ``smoothed_bleu`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class SmoothedBleu(evaluate.Metric):
    def _info(self):
        return info_for("smoothed_bleu")

    def _compute(self, predictions, references):
        return compute_for("smoothed_bleu", predictions, references)
