"""Write docs/results.md from a default run and the same SVM study on standardised features.

    astroxai run --out runs/default
    astroxai train runs/default/dataset.h5 --out runs/standardised --standardise
    astroxai trust runs/default/dataset.h5 runs/default/models/svm-3class runs/default/models/cnn-3class \
        --out runs/default/trust100 --kernels linear,rbf --n-spectra 100 --catalog runs/default/simulated/catalog.csv
    python docs/make_results.py runs/default runs/standardised runs/default/trust100

or, to redo only the trust section at the end of the page:  python docs/make_results.py --trust runs/default/trust100

The tables come from the runs (results.md of the run, plus a comparison with the standardised model);
the figures are copied into docs/figures; the observations at the top are written by hand in NOTES below
and refer to the default seeds.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from astroxai.report import paper
from astroxai.report.layout import RunLayout
from astroxai.report.tables import read_table

DOCS = Path(__file__).resolve().parent

NOTES = """# Classification results on the default simulated sample

Reproduces Sects. 3 and 5.1–5.2 of Peruzzi et al. (2021) on the embedded simulated sample (3346 spectra, same
class counts as the paper). Regenerate everything on this page with

```bash
astroxai run --out runs/default                                                   # ≈ 10 min on 2 cores
astroxai train runs/default/dataset.h5 --out runs/standardised --standardise      # ≈ 2 min
python docs/make_results.py runs/default runs/standardised runs/default/trust100
```

## What we saw

- **The task is neither trivial nor hopeless, and the numbers land on the paper's.** Type 1 vs type 2 is
  perfectly separable for the linear and RBF kernels (test F = 1.000, paper 1.0), while the three-class problem
  reaches a test macro F of 0.945 (RBF; linear 0.945, paper 0.942 and 0.935): type 1 is never confused (0 of 136),
  and the errors are intermediates taken for type 2 (17 of 104 with the linear kernel; the paper: 19 of 115) and
  type 2 taken for intermediates (10 of 429; the paper: 12 of 423). The simulator reproduces the hard boundary the
  paper found — weak broad Hβ in noisy type 1.8/1.9 spectra — without making it impossible.
- **The SVM sees the normalised fluxes unscaled, because that reproduces the paper best on every measure at once.**
  Until issue 15 the default put a `StandardScaler` in the pipeline; it is now an option (`astroxai train
  --standardise`, `"standardise": true` in a run config). On the same data, split and seed (tables below),
  unscaled fluxes give the better test F (0.945 against 0.930, paper 0.942 linear), a noise curve closer to the
  paper's Table 5 at every σ (σ = 0.4: 0.75 against 0.66, paper 0.82), all four kernels within 0.01 of each other
  as in the paper, and saliency maps that read the lines more (`docs/explain.md`: Hβ core and wings of opposite sign
  in 61 % of the broad-Hβ spectra explained as intermediate against 33 %; the share of |saliency| near the lines
  30.1 % against 19.6 %, on 23.9 % of the wavelengths). Standardisation divides each wavelength by the sample's
  spread there, which is smallest around the normalisation window (≈ 0.04 at 5050–5150 Å, where every spectrum is
  1 by construction) and in the red continuum (≈ 0.1 at 4600–4800 Å), against ≈ 0.35 at the blue end: added noise
  is magnified up to ~10× in exactly the pixels that carry least class information. We read this as evidence that
  the paper's SVMs saw unscaled fluxes.
- **Where the default still falls short of the paper** (the issue's targets): the noise curve is within 0.05 of
  Table 5 at σ = 0.1 (0.876 vs 0.92) but not at σ = 0.2 (0.799 vs 0.89) or 0.4 (0.754 vs 0.82) — the paper's
  intermediates keep more of their F under noise (0.63 vs 0.49 at σ = 0.4); the Hβ sign pattern appears in 61 % of
  the intermediate explanations (target 80 %), and the near-line share of |saliency| is 1.26× the wavelength share
  (target 1.5×). A smooth-kernel SVM's gradient is dominated by the continuum slope, which separates the classes as
  well as the lines do in these spectra; the 1-D CNN is the model here whose maps read the line width (76–80 %,
  below).
- **RBF collapses under heavy noise when features are standardised** (`--standardise`): at σ ≥ 1 every noisy
  spectrum is far from every support vector, the kernel values vanish and the decision falls back on the
  intercepts (everything becomes type 1). Unscaled, RBF degrades as gracefully as the linear kernel.
- **Hyper-parameters differ from the paper's while the scores agree**: the best linear C is 0.24 (paper 0.07)
  and the best RBF γ is 1.6e-5 (paper 0.003), below the paper's grid. γ scales with 1/(distance²) and C
  with the feature scale, so their values depend on the scaling and on the number and noise of the pixels; the
  γ grid here spans 5e-6 … 5 (it contains the paper's 0.005 … 5) so that the optimum is an interior point.
  For polynomial kernels γ only rescales C (tested), so the search fixes γ = 1/n_features and searches C alone.
- **Training is 20–30× faster than the paper's Table 9** (0.5–0.8 s per fit on 2677 spectra vs 13–15 s on an
  i7-6700HQ), with the same ordering caveat the paper noted: timings depend on C and the number of support
  vectors more than on the kernel. The full search (1500 fits over four kernels, refinement included) takes
  ≈ 39 s on 2 cores because each fold's Gram matrix is computed once and shared by every (kernel, γ, C); the
  same C grid through `GridSearchCV` is 4× slower and gives identical scores (`python benchmarks/bench_svm.py`).
- **Probabilities vs decisions**: `predict` reports the SVM decision and the Platt probabilities (libsvm's
  recipe); on 14 of the 669 test spectra the highest probability is not the decided class (borderline
  intermediates).

"""


TRUST_NOTES = """## Every explanation method × every model, and how far to trust each

{n} seeded test spectra, each explained for the class its model predicts; the SVMs through the torch bridge, the
CNN directly; baselines = the model's median training spectrum. Columns: time per spectrum (the method alone);
faithfulness — area under the target probability as pixels are replaced by the baseline in order of attribution
(deletion, lower is better) or put back (insertion, higher is better), the same for random orders, and the share of
spectra whose map beats the random order, then the same shares with each spectrum's own minimum as the baseline of
deletion and insertion ("min": a baseline no method integrates from), and the all-zero maps left out of every
faithfulness score (their pixel order would be the stable sort's, not the map's); sanity — median Spearman ρ
between |maps| of the model and of its randomised copy (passes below 0.5); stability — median relative change of a
map under noise at the spectrum's own level; truth — median share of |attribution| on the simulated broad-line
wavelengths (they cover {area:.0%} of the grid), its lift over that area share, and the share of broad-Hβ spectra
whose map has opposite signs in the Hβ core and wings; IG δ — integrated gradients' median convergence error
relative to p(f) − p(baseline).

Regenerate: `astroxai trust runs/default/dataset.h5 runs/default/models/svm-3class runs/default/models/cnn-3class
--out runs/default/trust100 --kernels linear,rbf --n-spectra 100 --catalog runs/default/simulated/catalog.csv`
(the CNN folder comes from `astroxai run`, or `astroxai train runs/default/dataset.h5 --out
runs/default/models/cnn-3class --model cnn`). Time per spectrum for a batch of 256:
`python benchmarks/bench_explainers.py`.

### What the table says (100 test spectra, default seeds)

- **Faithfulness, with the explainer's own baseline.** Integrated gradients, occlusion, LIME and KernelSHAP beat a
  random order on 99–100 % of the spectra for all three models (deletion areas 0.04–0.09 against 0.74–0.85 for
  random orders; insertion 0.98–0.99 against 0.73–0.81). **Saliency and SmoothGrad do not** (better than random on
  only 35–43 % of the spectra, deletion areas 0.97; the *mean* curves in the figure dip below the random one
  because on those spectra they win by a lot). A gradient says what a small *increase* of flux would do, while
  deletion moves every flux to the baseline — up at some pixels, down at others — so the first-order effect of
  deleting pixel i is −∂p/∂fᵢ·(fᵢ − bᵢ), whose sign the gradient alone does not know.
- **Faithfulness, with each spectrum's minimum as the baseline: the ranking reverses.** Every flux then moves
  *down*, the gradient's sign is the right answer, and saliency and SmoothGrad beat random orders on 100 % of the
  spectra (deletion areas 0.02–0.05), while the four baseline methods fall to 30–42 % (0.86–0.96 against random
  0.20–0.78). No method is more faithful under both baselines (`docs/explain.md`, "Faithfulness under two
  baselines"): faithfulness measures a method together with what "removing" means. All-zero maps (3 of 100 for
  the SVMs' gradients, where the probability sits at libsvm's clip; 4 for the CNN's occlusion) are left out of
  both and counted.
- **Sanity.** Every method passes the model-randomisation test on every model (median ρ from −0.02 to 0.46) but
  one: integrated gradients on the RBF SVM sits exactly on the limit (ρ = 0.50), and comes closest on the other
  two models too (0.44, 0.46). Its maps are (f − baseline) × an average gradient, and the first factor does not
  depend on the model at all — the input-times-gradient effect that Adebayo et al. (2018) warned about.
- **Stability.** LIME and KernelSHAP are the steadiest under noise at each spectrum's own S/N (relative change
  0.11–0.16: 40 segments average the noise away), the CNN's saliency and integrated gradients the least (0.54,
  0.52). SmoothGrad steadies the gradient on every model (SVM linear 0.30 → 0.28, RBF 0.30 → 0.28, CNN 0.54 →
  0.37); on the SVMs only a little, because the linear SVM and the wide RBF (γ = 1.6e-5) are almost linear on the
  scale of the noise, so averaging mostly rescales the gradient.
- **Ground truth.** The simulated broad-line wavelengths (broad Balmer lines ± one FWHM and, for type 1, the Fe II
  blends) cover 37 % of the grid. Every method of every model puts more of its |attribution| there than that
  area: the SVMs' gradients 46 % (lift 1.24; with standardised features it was 21–22 %, lift 0.56–0.58, their
  weight pulled to the 5100 Å normalisation point), their perturbation methods 50–69 % (lift 1.3–1.7), the CNN
  45–62 % (lift 1.2–1.6).
- **The paper's Hβ core/wing finding belongs to the CNN here.** Opposite signs in the Hβ core and wings — the model
  reading the line's width — in 76–80 % of the CNN's broad-Hβ maps by saliency, SmoothGrad and integrated gradients,
  against 36–41 % for the SVMs' gradients (68 % by their integrated gradients). Occlusion windows (≈ 1900 km/s) and
  LIME/KernelSHAP segments (≈ 38 Å) are wider than the 500 km/s core, so they cannot show it (12–44 %).
- **Cost** (batch of 256, `python benchmarks/bench_explainers.py`, measured on the standardised SVMs; the scaling
  does not change the work): saliency 0.03 / 0.17 / 0.51 ms per spectrum (SVM
  linear / RBF / CNN), SmoothGrad 0.9 / 3.9 / 34, integrated gradients 1.3 / 8.4 / 75, occlusion 1.7 / 9.4 / 43,
  LIME and KernelSHAP 100 / 140 / 210 ms. LIME and KernelSHAP cost the same on every model because captum fits one
  surrogate per spectrum in Python; at survey scale they are the methods to parallelise.
- **The CNN against the SVM.** Test macro F 0.914 against the RBF SVM's 0.945 (intermediates: 0.794 vs 0.867).
  Under noise the CNN is a little steadier at σ = 0.2–0.3 (0.82 vs 0.80 at 0.2) and the unscaled SVM from σ = 0.4
  on (σ = 1: 0.66 vs 0.52; σ = 4: 0.44 vs 0.31) — see the section above. (With standardised features it was the
  other way round: the SVM fell to 0.33 at σ = 1.)

"""


def _copy_figures(run_dir: Path, lines: list[str]) -> dict[str, str]:
    """Copy every figure the run's results.md shows into docs/figures; return old → new link."""
    mapping = {}
    for link in re.findall(r"\]\((models/[^)]+\.png)\)", "\n".join(lines)):
        problem, name = link.split("/")[1], Path(link).stem
        target = DOCS / "figures" / f"results_{problem}_{name}.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(run_dir / link, target)
        mapping[link] = f"figures/{target.name}"
    return mapping


def _standardised(folder: Path) -> bool:
    import json

    return bool(json.loads((folder / "model.json").read_text()).get("params", {}).get("standardise"))


def _raw_comparison(run_dir: Path, other_dir: Path) -> list[str]:
    """The default run's 3-class SVM beside the same study with the other feature scaling (``other_dir``)."""
    default_dir = RunLayout(run_dir).model("svm-3class").folder
    scaled_dir, raw_dir = (default_dir, other_dir) if _standardised(default_dir) else (other_dir, default_dir)
    scaled = {r["kernel"]: r for r in read_table(scaled_dir / "kernels")}
    raw = {r["kernel"]: r for r in read_table(raw_dir / "kernels")}
    flag = "--raw-features" if other_dir == raw_dir else "--standardise"
    lines = ["## Standardised vs raw features (three classes)", "",
             f"`runs/{other_dir.name}` was trained with `{flag}` on the same data, split and seed; the default run "
             f"is {'raw' if raw_dir == default_dir else 'standardised'}.", "",
             "| kernel | validation F, standardised | validation F, raw | test F, standardised | test F, raw |"
             " paper validation | paper test |", "|---|---|---|---|---|---|---|"]
    for kernel in scaled:
        if kernel in raw:
            lines.append(f"| {kernel} | {scaled[kernel]['validation_f1']:.3f} | {raw[kernel]['validation_f1']:.3f}"
                         f" | {scaled[kernel]['test_f1']:.3f} | {raw[kernel]['test_f1']:.3f}"
                         f" | {paper.VALIDATION[3][kernel][2]:.3f} | {paper.TEST[3][kernel][2]:.3f} |")
    noise_scaled = [r for r in read_table(scaled_dir / "noise") if r["kernel"] == "linear"]
    noise_raw = [r for r in read_table(raw_dir / "noise") if r["kernel"] == "linear"]
    lines += ["", "Added noise, linear kernel, test set (mean F; type 1 / type 2 / intermediate):", "",
              "| σ | standardised | raw | paper |", "|---|---|---|---|"]
    for a, b in zip(noise_scaled, noise_raw, strict=True):
        sigma = a["sigma"]
        ref = "–"
        if sigma == 0:  # no added noise: the paper's test scores (Tables 6 and 8)
            per_class = [paper.TEST_PER_CLASS[c][2] for c in ("type1", "type2", "intermediate")]
            ref = f"{paper.TEST[3]['linear'][2]:.2f} ({' / '.join(f'{v:.2f}' for v in per_class)})"
        elif sigma in paper.NOISE["sigma"]:
            k = paper.NOISE["sigma"].index(sigma)
            ref = (f"{paper.NOISE['mean'][k]:.2f} ({paper.NOISE['type1'][k]:.2f} / {paper.NOISE['type2'][k]:.2f} / "
                   f"{paper.NOISE['intermediate'][k]:.2f})")

        def cell(r):
            return f"{r['f1_mean']:.2f} ({r['f1_type1']:.2f} / {r['f1_type2']:.2f} / {r['f1_intermediate']:.2f})"

        lines.append(f"| {sigma:g} | {cell(a)} | {cell(b)} | {ref} |")
    return lines + [""]


TRUST_COLUMNS = [
    ("model", "model"), ("method", "method"), ("ms_per_spectrum", "ms / spectrum"),
    ("deletion_auc", "deletion AUC ↓"), ("random_deletion_auc", "random"), ("deletion_beats_random", "beats random"),
    ("insertion_auc", "insertion AUC ↑"), ("random_insertion_auc", "random"),
    ("insertion_beats_random", "beats random"), ("deletion_beats_random_min", "del. beats random (min)"),
    ("insertion_beats_random_min", "ins. beats random (min)"), ("zero_maps", "zero maps"),
    ("sanity_rho", "sanity ρ ↓"), ("stability", "stability ↓"),
    ("truth_mass", "truth mass"), ("truth_lift", "lift ↑"), ("hbeta_opposite", "Hβ opposite"),
    ("ig_relative_delta", "IG δ"),
]


def _trust_section(trust_dir: Path) -> list[str]:
    from astroxai.report.layout import TrustFiles
    from astroxai.report.markdown import format_value
    from astroxai.report.tables import read_table

    rows = read_table(TrustFiles(trust_dir).table)
    lines = [TRUST_NOTES.format(n=rows[0]["n_spectra"], area=rows[0].get("truth_area", float("nan"))),
             "| " + " | ".join(title for _, title in TRUST_COLUMNS) + " |", "|" + "---|" * len(TRUST_COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(row.get(key)) if not isinstance(row.get(key), bool)
                                        else str(row.get(key)) for key, _ in TRUST_COLUMNS) + " |")
    lines.append("")
    for name, caption in (("methods_side_by_side", "One test spectrum explained by every method for every model"),
                          ("deletion_curves", "Mean deletion (solid) and insertion (dotted) curves")):
        target = DOCS / "figures" / f"trust_{name}.png"
        shutil.copy(trust_dir / "figures" / f"{name}.png", target)
        lines += [f"![{caption}](figures/{target.name})", ""]
    return lines


def replace_trust_section(trust_dir: Path) -> None:
    """Rewrite only the trust section (the end of docs/results.md) from ``trust_dir``."""
    page = DOCS / "results.md"
    text = page.read_text()
    start = text.index("## Every explanation method")
    page.write_text(text[:start] + "\n".join(_trust_section(trust_dir)).lstrip("\n") + "\n")
    print(f"rewrote the trust section of {page}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--trust":
        replace_trust_section(Path(sys.argv[2]))
        return
    run_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/default")
    raw_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    trust_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    generated = (run_dir / "results.md").read_text().splitlines()[3:]  # drop the run's own title lines
    mapping = _copy_figures(run_dir, generated)
    body = []
    for line in generated:
        for old, new in mapping.items():
            line = line.replace(f"]({old})", f"]({new})")
        body.append(line.replace(f"`{run_dir}/", "`runs/default/").replace(f"`{run_dir}`", "`runs/default`"))
    text = NOTES + ("\n".join(_raw_comparison(run_dir, raw_dir)) + "\n" if raw_dir else "") + "\n".join(body)
    if trust_dir is not None:
        text += "\n\n" + "\n".join(_trust_section(trust_dir))
    (DOCS / "results.md").write_text(text + "\n")
    print(f"wrote {DOCS / 'results.md'}")


if __name__ == "__main__":
    main()
