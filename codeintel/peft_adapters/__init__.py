"""Adapters over backbones: NER (token-type) adapters with AdapterHub."""
