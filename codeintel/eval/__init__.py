"""Evaluation metrics, CodeXGLUE-exact and pure (no torch at import).

The evaluation loop is the recipe :mod:`codeintel.recipes.evaluate`.
"""
