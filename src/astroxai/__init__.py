"""astroxai: classify astronomical spectra and images, and explain why.

The package is organised as a pipeline of small, separately usable stages:
``io`` (read survey files) → ``reduce`` (rest frame, normalise, resample) →
``SpectraSet`` (the reduced data set) → models and explanations.
"""

from astroxai.dataset import SpectraSet
from astroxai.spectrum import Spectrum, SpectrumError

__version__ = "0.1.0"

__all__ = ["Spectrum", "SpectrumError", "SpectraSet", "__version__"]
