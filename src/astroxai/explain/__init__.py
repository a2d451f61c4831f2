"""Why a model decides what it decides: :class:`Explainer` (one verb, ``explain``) over a registry of attribution
methods (:mod:`astroxai.explain.methods`), :class:`Explanation` (maps and everything needed to read them, one HDF5
layout for spectra and images), the trust scores (:mod:`astroxai.explain.trust`) and the science checks: Hβ and line
shares for spectra (:mod:`~astroxai.explain.physics`), class-defining components of radio sources
(:mod:`~astroxai.explain.components`) and bar lengths (:mod:`~astroxai.explain.bars`)."""

from astroxai.explain.explainer import BASELINES, Explainer, ExplainSettings, Explanation
from astroxai.explain.methods import METHODS, Attribution, attribute, get_method, method_names, register
from astroxai.explain.modality import MODALITIES, Modality, modality_of, register_modality
from astroxai.explain.trust import TrustSettings, TrustTable, faithfulness, sanity, stability, trust_table, truth_mass

__all__ = ["BASELINES", "METHODS", "MODALITIES", "Attribution", "ExplainSettings", "Explainer", "Explanation",
           "Modality", "TrustSettings", "TrustTable", "attribute", "faithfulness", "get_method", "method_names",
           "modality_of", "register", "register_modality", "sanity", "stability", "trust_table", "truth_mass"]
