"""Running model-written code: the sandbox (and HumanEval-style problems, built on it)."""
