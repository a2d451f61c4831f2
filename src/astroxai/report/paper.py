"""The numbers of Peruzzi et al. (2021), Sects. 3 and 5.1–5.2, for side-by-side comparison with a run."""

from __future__ import annotations

#: Tables 3 and 4: validation macro F per kernel with the chosen C and γ.
VALIDATION = {
    3: {"linear": (0.07, None, 0.920), "rbf": (34.0, 0.003, 0.912), "poly2": (0.0005, 0.5, 0.916),
        "poly3": (0.0005, 0.05, 0.918)},
    2: {"linear": (0.4, None, 1.000), "rbf": (45.0, 0.005, 1.000), "poly2": (0.00005, 0.6, 1.000),
        "poly3": (0.0005, 0.05, 0.997)},
}
#: Tables 6 and 7: test macro precision, recall, F per kernel.
TEST = {
    3: {"linear": (0.948, 0.936, 0.942), "rbf": (0.945, 0.927, 0.935), "poly2": (0.925, 0.928, 0.927),
        "poly3": (0.935, 0.932, 0.933)},
    2: {k: (1.0, 1.0, 1.0) for k in ("linear", "rbf", "poly2", "poly3")},
}
#: Table 8: the linear kernel's test precision, recall, F per class (three classes).
TEST_PER_CLASS = {"type1": (1.0, 1.0, 1.0), "type2": (0.96, 0.97, 0.96), "intermediate": (0.89, 0.83, 0.86)}
#: Sect. 5.1: the linear kernel's confusion on the test set (132 type 1, 423 type 2, 115 intermediate).
CONFUSION_NOTES = "19 of 115 intermediates → type 2; 12 of 423 type 2 → intermediate (linear kernel)"
#: Table 5: test F with added noise (σ in units of the 5100 Å flux); the paper lists no value for σ = 0.3.
NOISE = {
    "sigma": (0.1, 0.2, 0.4, 1.0, 2.0, 3.0, 4.0),
    "mean": (0.92, 0.89, 0.82, 0.74, 0.68, 0.57, 0.56),
    "type1": (1.00, 1.00, 1.00, 0.99, 0.83, 0.64, 0.62),
    "type2": (0.95, 0.92, 0.86, 0.76, 0.68, 0.59, 0.60),
    "intermediate": (0.82, 0.74, 0.63, 0.48, 0.38, 0.33, 0.27),
}
#: Table 9: mean of 10 training runs on train + validation (2677 spectra), Intel i7-6700HQ, seconds.
TRAINING_TIME = {"linear": 15.13, "rbf": 13.34, "poly2": 12.94, "poly3": 12.96}
