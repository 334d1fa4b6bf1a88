"""codeintel's CodeBLEU (CodeXGLUE's ``calc_code_bleu.py``) as an ``evaluate`` module (offline, from a local path).

``compute(predictions=..., references=..., lang="java", weights=(0.25, 0.25, 0.25, 0.25))`` returns ``codebleu``
and its four components (``ngram``, ``weighted_ngram``, ``syntax``, ``dataflow``), all × 100."""

import evaluate

from codeintel.eval.evaluate_modules import compute_for, info_for


class Codebleu(evaluate.Metric):
    def _info(self):
        return info_for("codebleu")

    def _compute(self, predictions, references, lang="java", weights=(0.25, 0.25, 0.25, 0.25)):
        return compute_for("codebleu", predictions, references, lang=lang, weights=weights)
