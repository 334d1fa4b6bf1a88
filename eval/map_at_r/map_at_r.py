"""codeintel's ``map_at_r`` as an ``evaluate`` module (offline, from a local path)."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class MapAtR(evaluate.Metric):
    def _info(self):
        return info_for("map_at_r")

    def _compute(self, predictions, references):
        return compute_for("map_at_r", predictions, references)
