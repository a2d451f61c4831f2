"""Classifiers: data splits, hyper-parameter search, persistence (SVMs now; a CNN later)."""

from astroxai.models.split import Split, paper_split

__all__ = ["Split", "paper_split"]
