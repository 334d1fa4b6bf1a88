"""ContraBERT-style augmentation: semantics-preserving code operators and natural-language perturbations.

>>> import random
>>> from codeintel.augment import apply_op
>>> apply_op("swap_operands", "def f(a, b):\\n    return a < b\\n", "python", random.Random(0)).text
'def f(a, b):\\n    return b > a\\n'
"""

from codeintel.augment.core import (
    AUGMENTATIONS,
    NotApplicable,
    Operator,
    Outcome,
    apply_op,
    compose,
    get,
    parse_ops,
    register,
)

__all__ = ["AUGMENTATIONS", "NotApplicable", "Operator", "Outcome", "apply_op", "compose", "get", "parse_ops",
           "register", "operators"]


def operators() -> dict[str, Operator]:
    """Every registered operator (code and NL), by name."""
    from codeintel.augment.core import _load

    _load()
    return dict(AUGMENTATIONS)
