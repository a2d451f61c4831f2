"""Where a spectrum sits among the others: t-SNE maps (openTSNE) that carry what they need to place new spectra."""

from astroxai.embed.tsne import (
    FEATURES,
    PAPER_PERPLEXITIES,
    SUBSETS,
    EmbeddingMap,
    MapSpec,
    fit_maps,
    load_maps,
    paper_specs,
    save_maps,
)

__all__ = ["FEATURES", "PAPER_PERPLEXITIES", "SUBSETS", "EmbeddingMap", "MapSpec", "fit_maps", "load_maps",
           "paper_specs", "save_maps"]
