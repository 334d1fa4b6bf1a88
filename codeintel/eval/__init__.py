"""Evaluation: CodeXGLUE-exact metrics (``metrics``) and the evaluation loop (``harness``)."""
