"""What differs between kinds of input, in one object per kind: the explainers, the trust table, the workflows and the
report ask the modality of their data instead of branching on it.

A :class:`Modality` says, for its kind of input (``Estimator.modality`` and ``LabelledSet.modality`` name it):

* which methods and named baselines it has, and which settings table of a method applies (:meth:`settings`);
* what "nothing here" is for the perturbation methods (:meth:`reference`), and LIME's and KernelSHAP's
  interpretable features (:meth:`features`: wavelength windows of a spectrum, superpixels of an image);
* which inputs the model decides on (:meth:`decision_inputs`) and how its grid is stored with an explanation;
* the science check of one map (:meth:`science_rows`: Hβ core/wing and line share; the share on each true component)
  and the trust-table columns it adds (:meth:`trust_columns`: mass on the simulated truth, the Hβ sign test; the mass
  on the class-defining component), and each input's noise level for the stability score (:meth:`noise_level`).

:data:`MODALITIES` holds them by name; :func:`register_modality` adds one (a third kind — a light curve, a data cube
— is one class and one call, ``tests/explain/test_modality.py`` shows a toy light curve), :func:`modality_of` finds
one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astroxai.errors import InputError
from astroxai.explain import metrics
from astroxai.explain.components import component_scores, defining_components
from astroxai.explain.methods import continuum, default_features, wavelength_segments
from astroxai.explain.metrics import nan_median
from astroxai.explain.physics import physics_checks
from astroxai.results import Result

#: Named baselines every modality has: the model's own ``baseline_`` (``median`` is the older name) and zero.
COMMON_BASELINES = ("model", "median", "zero")


@dataclass(eq=False)
class SpectrumTruth(Result):
    """The trust-table columns of spectra with the simulator's truth: the median share of |map| on the broad-line
    wavelengths, their share of the grid and the lift; the share of broad-Hβ maps with opposite Hβ core and wing
    signs (left out on a grid without Hβ)."""

    truth_mass: float
    truth_area: float
    truth_lift: float
    hbeta_opposite: float | None = None
    optional_columns = ("hbeta_opposite",)


@dataclass(eq=False)
class ComponentShare(Result):
    """The trust-table columns of images with component masks: the median share of |map| on each image's
    class-defining component and its lift over the component's area."""

    defining_mass: float
    defining_lift: float


class Modality:
    """A kind of input (see the module doc).  Subclasses set ``name`` and override what differs."""

    name = ""
    noun = "inputs"
    #: What the maps were taken on, as an explanation's table records it.
    explained_as = "inputs"
    #: Names of the size and time columns of a trust table.
    count_columns = ("n_inputs", "ms_per_input")
    #: Named baselines beyond :data:`COMMON_BASELINES`.
    baselines: tuple[str, ...] = ()
    #: Which settings table of a :class:`~astroxai.explain.methods.Method` applies (``defaults`` or
    #: ``image_defaults``).
    method_defaults = "defaults"
    #: Options of a method that only this modality understands (e.g. ``lines`` of spectra).
    own_options: tuple[str, ...] = ()
    #: Whether a trust table draws one input explained by every method for every model (a spectrum's maps stack
    #: into one readable figure; images have their galleries).
    side_by_side = False

    def accepts(self, method_class) -> bool:
        """Whether a registered method explains this kind of input."""
        return not method_class.spectra_only

    def settings(self, method_class, options: dict) -> dict:
        """The method's settings for this kind of input, ``options`` checked against them."""
        settings = method_class.settings(options, self.method_defaults)
        foreign = [k for k in ("lines",) if options.get(k) and k not in self.own_options]
        if foreign:
            raise InputError(f"the option {foreign[0]!r} is defined for spectra, not {self.noun}")
        return settings

    def check_baseline(self, name: str) -> None:
        if name not in (*COMMON_BASELINES, *self.baselines):
            owners = [m.noun for m in MODALITIES.values() if name in m.baselines]
            raise InputError(f"the {name!r} baseline is defined for {' and '.join(owners) or 'no input'}, not "
                             f"{self.noun} (choose from {', '.join((*COMMON_BASELINES, *self.baselines))} or an "
                             "array)")

    def reference(self, name: str, model, Z) -> np.ndarray:
        """The inputs that mean "nothing here" under the named baseline, shaped like the prepared inputs ``Z``."""
        Z = np.asarray(Z, dtype=np.float64)
        if name == "model":
            return np.broadcast_to(np.asarray(model.baseline_, dtype=np.float64), Z.shape).copy()
        return np.zeros_like(Z)

    def features(self, model, raw, options: dict) -> np.ndarray:
        """LIME's and KernelSHAP's interpretable features of the raw inputs (one integer label per input value)."""
        return default_features(np.asarray(raw, dtype=np.float64), options)

    def decision_inputs(self, X, Z):
        """The inputs the model decides on: the raw ones (the model prepares them itself) by default."""
        return X

    def grid(self, model):
        """The model's grid as an explanation keeps it."""
        return model.grid_

    def stored_grid(self, grid) -> np.ndarray:
        """The grid as a float64 array for the explanation's file."""
        return np.asarray(grid, dtype=np.float64)

    def read_grid(self, stored):
        """The grid back from the file."""
        return np.asarray(stored, dtype=np.float64)

    def science_rows(self, explanation, data) -> list[dict]:
        """Per input, what this kind of input's science check measures on its map (none by default)."""
        return [{} for _ in range(len(explanation))]

    def trust_columns(self, explanation, data, truth=None) -> Result | None:
        """The trust-table columns of one method on one model beyond the generic scores (a result whose columns the
        table adds; ``None``, the default, adds none)."""
        return None

    def noise_level(self, data) -> np.ndarray | None:
        """Each input's noise level for the stability score, in the units of the explained inputs (None: no
        stability score)."""
        return None


class Spectra(Modality):
    """Spectra on a rest-frame wavelength grid (Peruzzi et al. 2021): the continuum baseline, wavelength windows as
    features (or windows around the lines), the Hβ core/wing and line-share checks, the simulated broad-line truth."""

    name, noun, explained_as = "spectra", "spectra", "spectra"
    count_columns = ("n_spectra", "ms_per_spectrum")
    baselines = ("continuum",)
    own_options = ("lines",)
    side_by_side = True

    def accepts(self, method_class) -> bool:
        return True

    def reference(self, name: str, model, Z) -> np.ndarray:
        if name == "continuum":
            return continuum(np.asarray(Z, dtype=np.float64))
        return super().reference(name, model, Z)

    def features(self, model, raw, options: dict) -> np.ndarray:
        return wavelength_segments(model.grid_, options["n_segments"], options.get("lines", False))[None]

    def decision_inputs(self, X, Z):
        # spectra are explained as they are: the classifier takes the prepared (converted) copy, not another one
        return Z

    def science_rows(self, explanation, data) -> list[dict]:
        return physics_checks(explanation.grid, explanation.maps).rows()

    def trust_columns(self, explanation, data, truth=None) -> SpectrumTruth | None:
        """With the simulator's truth: the share of |map| on the broad-line wavelengths (and its lift), and the share
        of broad-Hβ maps whose Hβ core and wings take opposite signs."""
        if truth is None:
            return None
        regions = metrics.truth_regions(explanation.grid, truth["label"], truth["broad"], truth["fwhm"],
                                        truth["r_feii"])
        mass = metrics.mass_in_region(explanation.grid, explanation.maps, regions)
        columns = SpectrumTruth(nan_median(mass.mass), nan_median(mass.area), nan_median(mass.lift))
        broad = np.asarray(truth["broad"], dtype=bool)
        signs = physics_checks(explanation.grid, explanation.maps[broad]).signs if broad.any() else None
        if signs is not None:  # None: the grid does not cover Hβ's core and wings
            counted = ~signs.zero
            columns.hbeta_opposite = float(signs.opposite[counted].mean()) if counted.any() else float("nan")
        return columns

    def noise_level(self, data) -> np.ndarray:
        """1 / (S/N at 5100 Å) where the reduction measured it (the flux is 1 there), else a robust estimate from
        pixel-to-pixel differences (1.4826 · MAD of f[i+1] − f[i], ÷ √2)."""
        X = np.atleast_2d(np.asarray(data.flux, dtype=np.float64))
        diff = np.diff(X, axis=1)
        estimate = 1.4826 * np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1) / np.sqrt(2)
        snr = np.asarray(data.meta.get("snr_5100", np.full(len(X), np.nan)), dtype=np.float64)
        return np.where(np.isfinite(snr) & (snr > 0), 1.0 / np.where(snr > 0, snr, 1.0), estimate)


class Images(Modality):
    """Image cutouts (C, H, W) (Liang et al. 2023; Bhambra et al. 2022): empty sky as the baseline, SLIC
    superpixels as features, the share of |map| on each true component and on the class-defining one."""

    name, noun, explained_as = "images", "images", "prepared images (peak-scaled, stretched)"
    count_columns = ("n_images", "ms_per_image")
    method_defaults = "image_defaults"

    def grid(self, model):
        return tuple(int(n) for n in model.grid_)

    def read_grid(self, stored):
        return tuple(int(n) for n in np.asarray(stored).ravel())

    def science_rows(self, explanation, data) -> list[dict]:
        if not data.masks:
            return super().science_rows(explanation, data)
        return [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
                for row in component_scores(explanation.maps, data.masks, data.labels, defining_components(data))]

    def trust_columns(self, explanation, data, truth=None) -> ComponentShare | None:
        """With component masks: the median share of |map| on each image's class-defining component, and its lift."""
        if not data.masks:
            return None
        scored = [s for s in component_scores(explanation.maps, data.masks, data.labels, defining_components(data))
                  if "defining" in s]
        if not scored:
            return None
        return ComponentShare(nan_median([s["defining_mass"] for s in scored]),
                              nan_median([s["defining_lift"] for s in scored]))


MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> Modality:
    """Add a kind of input under its name (a later registration of the same name replaces the earlier one)."""
    if not modality.name:
        raise InputError("a modality needs a name (the one its data sets and models give as `modality`)")
    MODALITIES[modality.name] = modality
    return modality


def modality_of(thing) -> Modality:
    """The modality of a name, or of anything with a ``modality`` attribute (a data set, a model, an
    explanation)."""
    name = thing if isinstance(thing, str) else getattr(thing, "modality", None)
    if name not in MODALITIES:
        raise InputError(f"no modality {name!r} is registered (known: {', '.join(MODALITIES)})")
    return MODALITIES[name]


register_modality(Spectra())
register_modality(Images())

__all__ = ["MODALITIES", "Images", "Modality", "Spectra", "modality_of", "register_modality"]
