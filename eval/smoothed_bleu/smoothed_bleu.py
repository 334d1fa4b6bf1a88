"""codeintel's ``smoothed_bleu`` as an ``evaluate`` module: ``evaluate.load("<hub>/eval/smoothed_bleu")`` works offline."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class SmoothedBleu(evaluate.Metric):
    def _info(self):
        return info_for("smoothed_bleu")

    def _compute(self, predictions, references):
        return compute_for("smoothed_bleu", predictions, references)
