"""Tokenizers: the shipped byte-level BPE for the tiny presets (and, later, Tokompiler)."""
