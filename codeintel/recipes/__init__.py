"""Training recipes: explicit loops, read top to bottom."""
