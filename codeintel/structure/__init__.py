"""Syntax structure: tree-sitter parsing from the pinned grammar wheels (no compiled grammar in the repo)."""
