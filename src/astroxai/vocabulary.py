"""The names a user types for the explanation methods and baselines, without importing torch: the command line
builds its choices from here (a light start), the registry of :mod:`astroxai.explain.methods` registers the same
names (``tests/explain/test_methods.py`` checks that they agree)."""

from __future__ import annotations

#: Every registered method, in registration order (:func:`astroxai.explain.methods.method_names`).
METHOD_NAMES = ("saliency", "finite-difference", "smoothgrad", "integrated-gradients", "occlusion", "lime",
                "kernelshap")
#: Other names of registered methods.
METHOD_ALIASES = {"exact": "saliency"}
#: Named baselines of the perturbation methods (:class:`astroxai.explain.Explainer`).
BASELINES = ("model", "median", "continuum", "zero")
#: The methods a trust table scores by default (finite differences are the saliency map again, far slower).
TRUST_METHODS = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime", "kernelshap")

__all__ = ["BASELINES", "METHOD_ALIASES", "METHOD_NAMES", "TRUST_METHODS"]
