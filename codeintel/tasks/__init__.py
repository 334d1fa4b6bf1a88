"""Tasks: YAML task cards, task heads, and the per-task data/loss/evaluation logic."""
