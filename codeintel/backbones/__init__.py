"""The backbone registry (``table.py``), one file per family, and loading by name, hub id or directory."""
