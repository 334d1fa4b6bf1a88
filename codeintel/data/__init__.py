"""Datasets: the embedded stdlib corpus, loaders for the standard local formats, tokenized caching."""
