"""codeintel's ``xmatch`` (CodeXGLUE's exact match of stripped lines) as an ``evaluate`` module (offline)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class Xmatch(evaluate.Metric):
    def _info(self):
        return info_for("xmatch")

    def _compute(self, predictions, references):
        return compute_for("xmatch", predictions, references)
