"""Attribution methods, one class each in one registry, and :func:`attribute`, which runs any of them in batches.

Every method maps a torch module (inputs → class probabilities or a value) and inputs of any shape ((N, F) spectra,
(N, C, H, W) images) to maps of the same shape; positive = more of this input raises the explained output.  All
come from captum (Kokhlikyan et al. 2020, arXiv:2009.07896), except the paper's finite differences; this module
fixes their settings for astronomy (defaults per modality, :attr:`Method.defaults`):

``saliency`` (alias ``exact``)
    ∂p/∂x by autograd (captum ``Saliency``, signed; Simonyan, Vedaldi & Zisserman 2014, arXiv:1312.6034) — the
    paper's map without its finite differences.  ``log=True`` differentiates log p (the paper's text) instead.
``finite-difference``
    the paper's own recipe, [p(f + e_i) − p(f)] / e_i with e_i = 0.01 f_i (Peruzzi et al. 2021, Sect. 4.1),
    vectorised (:func:`astroxai.explain.saliency.finite_difference_saliency`); spectra only.
``smoothgrad``
    the mean saliency over ``n_samples`` noisy copies (captum ``NoiseTunnel``; Smilkov et al. 2017,
    arXiv:1706.03825), the method of Bhambra et al. (2022).  For spectra ``noise`` is σ in units of the flux at
    5100 Å, which the reduction sets to 1: 0.05 is the noise of a spectrum with S/N = 20, the median S/N of the
    simulated type 1 sample; for prepared images (peak = 1) it is 0.1.
``integrated-gradients``
    (x − x′) · mean ∂p/∂x along the straight path from a baseline x′ (Sundararajan, Taly & Yan 2017,
    arXiv:1703.01365).  The maps sum to p(x) − p(x′); the convergence delta (the sum's error) is returned.
``occlusion``
    p(x) − p(x with a window replaced by the baseline), windows of ``window`` pixels moved by ``stride`` (Zeiler &
    Fergus 2014, arXiv:1311.2901); a pixel gets the mean over the windows that cover it.
``lime``
    a weighted linear surrogate of p on ``n_samples`` inputs with random features switched to the baseline (Ribeiro,
    Singh & Guestrin 2016, arXiv:1602.04938), the method of Liang et al. (2023, arXiv:2307.03453); the map is each
    feature's coefficient.  Features: wavelength windows (spectra) or SLIC superpixels (images).
``kernelshap``
    Shapley values of the same features by the Shapley kernel (Lundberg & Lee 2017, arXiv:1705.07874); they sum
    (approximately) to p(x) − p(baseline).

A new method is one subclass of :class:`Method` decorated with :func:`register`.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from astroxai.errors import InputError
from astroxai.explain.physics import LINE_WINDOW_KMS, velocity
from astroxai.explain.saliency import PAPER_EPSILON, finite_difference_saliency, module_dtype, row_gradients
from astroxai.lines import DIAGNOSTIC_LINES
from astroxai.progress import track

#: Width in pixels of the running median that removes lines for the 'continuum' baseline (≈ 300 Å on the
#: default 1.54 Å grid: wider than the broadest Balmer line, FWHM 12000 km/s ≈ 195 Å at Hβ).
CONTINUUM_WIDTH = 201


@dataclass
class Attribution:
    """Maps of N inputs by one method, with what else the method reports."""

    method: str
    maps: np.ndarray  # shaped like the inputs, float64; positive = more of this raises the explained output
    seconds: float
    options: dict = field(default_factory=dict)
    delta: np.ndarray | None = None  # integrated gradients: convergence delta per input


class Method:
    """One attribution method: its name, settings and the captum call on one batch."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Whether the maps depend on a baseline input (what "nothing here" is).
    uses_baseline: ClassVar[bool] = False
    #: Whether the method needs interpretable features (a feature mask).
    uses_features: ClassVar[bool] = False
    #: Whether the method takes ``log`` (explain log p).
    takes_log: ClassVar[bool] = False
    #: Settings for spectra and for images; any other option is refused.
    defaults: ClassVar[dict] = {}
    image_defaults: ClassVar[dict] = {}
    #: Whether inputs need gradients.
    gradient: ClassVar[bool] = False
    spectra_only: ClassVar[bool] = False
    #: One forward and one backward pass per input, no copies of it (batches may be as large as the model allows:
    #: :attr:`astroxai.models.base.Estimator.single_pass_batch`).
    single_pass: ClassVar[bool] = False

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts: dict, image: bool):
        """Maps (and the convergence delta, or None) of one batch; tensors in, tensors out."""
        raise NotImplementedError

    @classmethod
    def settings(cls, options: dict, table: str = "defaults") -> dict:
        """This method's settings: one of its tables (``defaults`` for spectra, ``image_defaults`` for images) with
        ``options`` over it; an option the table does not name is refused."""
        defaults = getattr(cls, table)
        unknown = set(options) - set(defaults)
        if unknown:
            raise InputError(f"{cls.name} takes no options {sorted(unknown)} (it takes {sorted(defaults) or 'none'})")
        return {**defaults, **options}


METHODS: dict[str, type[Method]] = {}
ALIASES: dict[str, str] = {}


def register(cls: type[Method]) -> type[Method]:
    """Add a method to the registry under its name and aliases."""
    METHODS[cls.name] = cls
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def get_method(name: str) -> type[Method]:
    """The registered method called ``name`` (or one of its aliases)."""
    key = ALIASES.get(name, name)
    if key not in METHODS:
        raise InputError(f"unknown method {name!r}; choose from {', '.join(method_names())}")
    return METHODS[key]


def method_names(modality: str | None = None) -> list[str]:
    """Registered method names (those that explain one modality's inputs, when given), in registration order."""
    if modality is None:
        return list(METHODS)
    from astroxai.explain.modality import modality_of  # the modalities know the methods, not the other way round

    kind = modality_of(modality)
    return [name for name, cls in METHODS.items() if kind.accepts(cls)]


@register
class SaliencyMethod(Method):
    """∂p/∂x by autograd, signed (captum ``Saliency``'s quantity, one backward pass: :func:`row_gradients`;
    Simonyan, Vedaldi & Zisserman 2014, arXiv:1312.6034): the paper's saliency map without its finite differences;
    ``log=True`` differentiates log p (the paper's text)."""

    name, aliases, takes_log, gradient, single_pass = "saliency", ("exact",), True, True, True
    defaults = image_defaults = {"log": False}

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts, image):
        return row_gradients(module, inputs, target, log=opts["log"]), None


@register
class FiniteDifferenceMethod(Method):
    """The paper's recipe, [p(f + e_i) − p(f)] / e_i with e_i = ``eps`` · f_i (Peruzzi et al. 2021, Sect. 4.1),
    vectorised; ``scheme='central'`` for second-order accuracy."""

    name, takes_log, spectra_only = "finite-difference", True, True
    defaults = {"log": False, "eps": PAPER_EPSILON, "scheme": "forward"}

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts, image):
        from astroxai.explain.metrics import predictor

        maps = finite_difference_saliency(predictor(module), inputs.detach().numpy(), target.numpy(),
                                          eps=opts["eps"], log=opts["log"], scheme=opts["scheme"])
        return torch.from_numpy(maps), None


@register
class SmoothGradMethod(Method):
    """The mean saliency over ``n_samples`` copies with Gaussian noise of σ = ``noise`` (captum ``NoiseTunnel``;
    Smilkov et al. 2017, arXiv:1706.03825)."""

    name, gradient = "smoothgrad", True
    defaults = {"n_samples": 25, "noise": 0.05}
    image_defaults = {"n_samples": 25, "noise": 0.1}

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts, image):
        from captum.attr import NoiseTunnel, Saliency

        tunnel = NoiseTunnel(Saliency(module))
        return tunnel.attribute(inputs, nt_type="smoothgrad", nt_samples=opts["n_samples"],
                                nt_samples_batch_size=opts["n_samples"], stdevs=float(opts["noise"]), target=target,
                                abs=False), None


@register
class IntegratedGradientsMethod(Method):
    """(x − x′) · mean ∂p/∂x along the straight path from the baseline x′, ``n_steps`` steps (Sundararajan, Taly &
    Yan 2017, arXiv:1703.01365); returns the convergence delta."""

    name, gradient, uses_baseline = "integrated-gradients", True, True
    defaults = {"n_steps": 50}
    image_defaults = {"n_steps": 32}

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts, image):
        from captum.attr import IntegratedGradients

        return IntegratedGradients(module).attribute(inputs, baselines=baseline, target=target,
                                                     n_steps=opts["n_steps"], return_convergence_delta=True)


@register
class OcclusionMethod(Method):
    """p(x) − p(x with a ``window`` replaced by the baseline), windows moved by ``stride`` (Zeiler & Fergus 2014,
    arXiv:1311.2901)."""

    name, uses_baseline = "occlusion", True
    defaults = {"window": 20, "stride": 10}
    image_defaults = {"window": 8, "stride": 4}

    @staticmethod
    def run(module, inputs, target, baseline, mask, opts, image):
        from captum.attr import Occlusion

        channels = inputs.shape[1]
        window = (channels, opts["window"], opts["window"]) if image else (opts["window"],)
        strides = (channels, opts["stride"], opts["stride"]) if image else opts["stride"]
        return Occlusion(module).attribute(inputs, sliding_window_shapes=window, strides=strides, baselines=baseline,
                                           target=target, perturbations_per_eval=64), None


class _SurrogateMethod(Method):
    """LIME and KernelSHAP: one surrogate per input on its interpretable features.

    captum's ``LimeBase`` draws, transforms and weighs its perturbations one at a time in Python: ~80 % of a LIME
    map of an SVM went there (profiled), not into the model.  :meth:`run` does the same steps for all perturbations
    of an input as tensor operations, with captum's own sampler, surrogate model and kernel constants, in the same
    order of random draws and the same model batches, so the maps equal captum's ``attribute`` to float32 round-off
    (tests/explain/test_methods.py compares them).
    """

    uses_baseline = uses_features = True
    defaults = {"n_samples": 400, "n_segments": 40, "lines": False}
    image_defaults = {"n_samples": 300, "n_segments": 50}
    #: Perturbations per model call (captum's ``perturbations_per_eval``).
    PER_EVAL: ClassVar[int] = 100

    @staticmethod
    def explainer(module):
        raise NotImplementedError

    @staticmethod
    def draws(explainer, inputs, n_samples: int, n_features: int, options: dict) -> torch.Tensor:
        """(n_samples, n_features) on/off patterns, drawn as captum draws them for one input."""
        raise NotImplementedError

    @staticmethod
    def weights(explainer, inputs, perturbed, patterns, n_features: int) -> torch.Tensor:
        """The surrogate's weight of each perturbation (float32), as captum's similarity function gives it."""
        raise NotImplementedError

    @staticmethod
    def sampler_options(n_features: int) -> dict:
        """What the sampler needs beyond the number of features (computed once per batch, as captum does)."""
        return {}

    @classmethod
    def run(cls, module, inputs, target, baseline, mask, opts, image):
        explainer = cls.explainer(module)
        n_samples, per_eval = int(opts["n_samples"]), cls.PER_EVAL
        # captum numbers the features of the whole batch's mask from 0 and samples that many for every input
        mask = mask - mask.min()
        n_features = int(mask.max()) + 1
        options = cls.sampler_options(n_features)
        maps = torch.zeros(inputs.shape, dtype=torch.float32)
        with torch.no_grad():
            for i in range(len(inputs)):
                x, base = inputs[i:i + 1].detach(), baseline[i:i + 1]
                features = mask[i if len(mask) == len(inputs) else 0]
                patterns = cls.draws(explainer, x, n_samples, n_features, options)
                switched_on = patterns.bool()
                outputs, weights = [], []
                for start in range(0, n_samples, per_eval):
                    # captum's on · x + off · baseline, without its products (the same values for finite baselines)
                    perturbed = torch.where(switched_on[start:start + per_eval][:, features], x, base)
                    out = module(perturbed)
                    outputs.append((out if target is None else out[:, int(target[i])]).flatten())
                    weights.append(cls.weights(explainer, x, perturbed, patterns[start:start + per_eval], n_features))
                # captum hands the surrogate a DataLoader, whose iterator draws one int64 from torch's generator
                # (its shared seed) and then collates the samples one by one; the surrogate's fit only iterates over
                # what it gets, so it is given the one batch directly and the draw is made here, which keeps the
                # next input's draws in step with captum's
                torch.empty((), dtype=torch.int64).random_()
                with _ONE_FIT_AT_A_TIME, _blas_controller().limit(limits=1, user_api="blas"):
                    explainer.interpretable_model.fit([(patterns.float(), torch.cat(outputs).float(),
                                                        torch.cat(weights).float())])
                coefs = explainer.interpretable_model.representation().flatten().float()
                maps[i] = coefs[features]
        return maps, None


#: threadpoolctl's limit is process-wide: two threads that each set and restore it could leave BLAS on one thread.
_ONE_FIT_AT_A_TIME = threading.Lock()


@functools.cache
def _blas_controller():
    """threadpoolctl's handle on the BLAS libraries of numpy and scipy (listed once, after scikit-learn loaded them).

    A surrogate is a least-squares fit of a few hundred rows by ~40 features, for which OpenBLAS's threads only cost
    their wake-ups: on two busy cores a KernelSHAP fit took 6 ms with two threads and 0.8 ms with one.  One thread
    also keeps the maps independent of how many threads a machine has."""
    import sklearn.linear_model  # noqa: F401 - loads scipy's BLAS, so that the controller sees it
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@register
class LimeMethod(_SurrogateMethod):
    """A weighted ridge surrogate on random on/off patterns of the features (Ribeiro, Singh & Guestrin 2016,
    arXiv:1602.04938); captum's sampler (each feature on with p = 0.5) and kernel (exp(−d²/2), d = cosine distance
    to the input)."""

    name = "lime"

    @staticmethod
    def explainer(module):
        from captum._utils.models.linear_model import SkLearnRidge
        from captum.attr import Lime

        return Lime(module, interpretable_model=SkLearnRidge(alpha=0.01))

    @staticmethod
    def draws(explainer, inputs, n_samples, n_features, options):
        # captum's default_perturb_func draws torch.bernoulli of a (1, F) tensor of 0.5 per sample; torch fills a
        # (n, F) tensor from the same stream in the same order
        return torch.bernoulli(torch.full((n_samples, n_features), 0.5)).long()

    @staticmethod
    def weights(explainer, inputs, perturbed, patterns, n_features):
        cosine = torch.cosine_similarity(perturbed.flatten(1).float(), inputs.flatten().float()[None], dim=1)
        distance = 1 - cosine
        return torch.exp((-1 * distance**2 / 2.0).double()).float()


@register
class KernelShapMethod(_SurrogateMethod):
    """Shapley values of the features estimated with the Shapley kernel (Lundberg & Lee 2017, arXiv:1705.07874)."""

    name = "kernelshap"

    @staticmethod
    def explainer(module):
        from captum.attr import KernelShap

        return KernelShap(module)

    @staticmethod
    def sampler_options(n_features):
        from torch.distributions.categorical import Categorical

        # captum's distribution of the number of features switched on, p(k) ∝ (M − 1) / (k (M − k)), p(0) = 0
        k = torch.arange(n_features, dtype=torch.float)
        probs = torch.tensor(n_features - 1) / (k * (n_features - k))
        probs[0] = 0.0
        return {"num_select_distribution": Categorical(probs)}

    @staticmethod
    def draws(explainer, inputs, n_samples, n_features, options):
        # captum's kernel_shap_perturb_generator: all on, all off, then per sample a number k of features from the
        # distribution (Categorical.sample: torch.multinomial of one draw from its normalised probabilities p) and
        # (1, M) normal deviates, switching on those above the (M − k)-th smallest.  The two draws alternate in
        # torch's stream, so they are made in that order here.  torch draws one multinomial sample as
        # argmax(p / e) with e ~ Exp(1) per category (an exact categorical sampler); drawing e directly skips
        # multinomial's checks (~4× faster per draw).  The thresholds are taken for all samples at once.
        probs = options["num_select_distribution"].probs.reshape(1, n_features)
        count = max(0, n_samples - 2)
        exponential, deviates = torch.empty(count, n_features), torch.empty(count, n_features)
        for j in range(count):
            exponential[j] = torch.empty(1, n_features).exponential_()[0]
            deviates[j] = torch.randn(1, n_features)[0]
        chosen = torch.argmax(probs / exponential, dim=1)
        ordered = deviates.sort(dim=1).values
        threshold = ordered.gather(1, (n_features - chosen - 1)[:, None])
        patterns = torch.cat([torch.ones(1, n_features), torch.zeros(1, n_features), (deviates > threshold).float()])
        return patterns[:n_samples].long()

    @staticmethod
    def weights(explainer, inputs, perturbed, patterns, n_features):
        # all features on or all off: captum's stand-in for an infinite weight; every other pattern weighs 1
        on = patterns.sum(dim=1)
        return torch.where((on == 0) | (on == n_features), explainer.inf_weight, 1.0).float()


def continuum(flux, width: int = CONTINUUM_WIDTH) -> np.ndarray:
    """Each spectrum's continuum: a running median of ``width`` pixels, then a running mean of the same width to
    smooth its steps (scipy.ndimage; edges reflected).  Removes emission and absorption lines narrower than the
    window while keeping the continuum's slope and the 4000 Å break's large-scale shape."""
    from scipy.ndimage import median_filter, uniform_filter1d

    flux = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    width = min(width, flux.shape[1] - (1 - flux.shape[1] % 2))
    return uniform_filter1d(median_filter(flux, size=(1, width), mode="reflect"), width, axis=1, mode="reflect")


def wavelength_segments(wavelength, n_segments: int = 40, lines: bool = False) -> np.ndarray:
    """Segment index (0 … S−1) of every pixel: contiguous windows of equal size, or (``lines=True``) ±2000 km/s
    around each diagnostic line on the grid plus windows of the remaining continuum of about the same width."""
    wavelength = np.asarray(wavelength, dtype=float)
    n = wavelength.size
    n_segments = max(1, min(n_segments, n))
    if not lines:
        return (np.arange(n) * n_segments // n).astype(np.int64)
    owner = np.full(n, -1, dtype=np.int64)
    k = 0
    for centre in DIAGNOSTIC_LINES.values():
        near = (np.abs(velocity(wavelength, centre)) <= LINE_WINDOW_KMS) & (owner < 0)
        if near.any():
            owner[near] = k
            k += 1
    width = max(1, n // n_segments)
    rest = np.flatnonzero(owner < 0)
    if rest.size:
        # Runs of continuum pixels, each cut into pieces of about ``width`` pixels.
        runs = np.split(rest, np.flatnonzero(np.diff(rest) > 1) + 1)
        for run in runs:
            pieces = max(1, round(run.size / width))
            for piece in np.array_split(run, pieces):
                owner[piece] = k
                k += 1
    return owner


def default_features(X, opts: dict) -> np.ndarray:
    """LIME's and KernelSHAP's features when none are given: ``n_segments`` equal pixel windows of every spectrum,
    SLIC superpixels of every image (:func:`astroxai.explain.segments.superpixels`)."""
    if X.ndim == 4:
        from astroxai.explain.segments import superpixels

        return np.broadcast_to(superpixels(X, opts["n_segments"])[:, None], X.shape)
    if opts.get("lines"):
        raise InputError("segments around lines need the wavelength grid: give the features (wavelength_segments)")
    return wavelength_segments(np.arange(X.shape[1]), opts["n_segments"])[None, :]


def _batch(X) -> np.ndarray:
    """float64 inputs with a leading batch axis: (N, F) spectra or (N, C, H, W) images (one spectrum may be 1-D)."""
    X = np.asarray(X, dtype=np.float64)
    return X[None] if X.ndim == 1 else X


def attribute(module: torch.nn.Module, X, target, method: str = "saliency", *, baseline=None, feature_mask=None,
              batch_size: int = 256, seed: int = 0, progress=None, **options) -> Attribution:
    """Attribution maps of ``module(X)[i, target[i]]`` by a registered ``method``, in batches of ``batch_size``.

    Parameters
    ----------
    module : torch.nn.Module
        Inputs → (N, K) probabilities (or (N,) values, with ``target=None``).
    X : ndarray
        (N, F) spectra or (N, C, H, W) images (as the module takes them).
    target : int or array of int
        The output explained for each input.
    method : str
        A registered method (:data:`METHODS`, or an alias).
    baseline : ndarray, optional
        What "nothing" is, shaped like ``X`` or like one input (methods with ``uses_baseline``).
    feature_mask : ndarray of int, optional
        The interpretable features of LIME and KernelSHAP: one label per input element (shape of ``X`` or of one
        input).  Default: ``n_segments`` equal windows of a spectrum, SLIC superpixels of an image.
    seed : int
        Every random draw is seeded: batch ``b`` starting at input ``s`` uses ``torch.manual_seed(seed + s)``.
    options :
        Override the method's defaults (:attr:`Method.defaults`; images: :attr:`Method.image_defaults`).

    Returns
    -------
    Attribution
        ``maps`` shaped like ``X`` (float64), the seconds taken, the options used and, for integrated gradients,
        the convergence delta per input.

    Examples
    --------
    >>> import numpy as np, torch
    >>> linear = torch.nn.Sequential(torch.nn.Linear(3, 2, dtype=torch.float64), torch.nn.Softmax(dim=1))
    >>> attribute(linear, np.ones((4, 3)), 0, "saliency").maps.shape
    (4, 3)
    """
    cls = get_method(method)
    X = _batch(X)
    image = X.ndim == 4
    if image and cls.spectra_only:
        raise InputError(f"{cls.name} is defined for spectra only")
    opts = cls.settings(options, "image_defaults" if image else "defaults")
    target = None if target is None else np.array(np.broadcast_to(np.asarray(target, dtype=np.int64), (len(X),)))
    start_time = time.perf_counter()
    dtype = module_dtype(module)
    base = None
    if cls.uses_baseline:
        if baseline is None:
            raise InputError(f"{cls.name} needs a baseline input")
        base = np.broadcast_to(np.asarray(baseline, dtype=np.float64), X.shape)
    mask = None
    if cls.uses_features:
        if feature_mask is None:
            feature_mask = default_features(X, opts)
        mask = np.asarray(feature_mask, dtype=np.int64)
        mask = np.broadcast_to(mask, X.shape) if mask.shape == X.shape[1:] else mask
        if mask.shape[1:] != X.shape[1:] or mask.shape[0] not in (1, len(X)):
            raise InputError(f"feature_mask has shape {mask.shape}, the inputs {X.shape}")
        opts["n_features"] = int(mask.max()) + 1

    def tensor(a):
        return torch.tensor(np.asarray(a), dtype=dtype)  # a copy: broadcast baselines are read-only views

    def work(rows: slice):
        torch.manual_seed(seed + rows.start)
        # the inputs themselves are shared with torch, not copied (no method writes into them)
        shared = X.flags.writeable and X[rows].flags.c_contiguous and dtype == torch.float64
        inputs = (torch.from_numpy(X[rows]) if shared else tensor(X[rows])).requires_grad_(cls.gradient)
        t = None if target is None else torch.as_tensor(target[rows])
        b = None if base is None else tensor(base[rows])
        m = None if mask is None else torch.tensor(mask[rows] if mask.shape[0] == len(X) else mask)
        return cls.run(module, inputs, t, b, m, opts, image)

    starts = range(0, len(X), batch_size)
    maps, deltas = np.empty(X.shape), []  # each batch's maps go straight into place (no concatenation)
    for start in track(progress, starts, f"{cls.name} batches", len(starts)):
        rows = slice(start, min(len(X), start + batch_size))
        batch_maps, delta = work(rows)
        maps[rows] = batch_maps.detach().numpy()
        if delta is not None:
            deltas.append(delta.detach().to(torch.float64).numpy())
    delta = np.concatenate(deltas) if deltas else None
    return Attribution(cls.name, maps, time.perf_counter() - start_time, opts, delta)
