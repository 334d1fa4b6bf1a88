"""ContraBERT-style augmentation: semantics-preserving code operators and natural-language perturbations.

>>> import random
>>> from codeintel.augment import apply_op
>>> apply_op("swap_operands", "def f(a, b):\\n    return a < b\\n", "python", random.Random(0)).text
'def f(a, b):\\n    return b > a\\n'
"""

from codeintel.augment.core import (
    OPERATORS,
    NotApplicable,
    Operator,
    Outcome,
    apply_op,
    compose,
    get,
    operator,
    operators,
    parse_ops,
)

__all__ = ["OPERATORS", "NotApplicable", "Operator", "Outcome", "apply_op", "compose", "get", "operator",
           "operators", "parse_ops"]
