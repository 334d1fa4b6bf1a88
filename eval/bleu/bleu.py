"""codeintel's ``bleu`` (CodeXGLUE's code-to-code ``_bleu``) as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class Bleu(evaluate.Metric):
    def _info(self):
        return info_for("bleu")

    def _compute(self, predictions, references):
        return compute_for("bleu", predictions, references)
