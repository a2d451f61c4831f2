"""The commands that make and fetch data: ``simulate``, ``reduce``, ``fetch``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from astroxai.cli import CATALOG, INPUTS, fail, main, progress_bar, reports_errors


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the files, catalog.csv and simulation.json.")
@click.option("--kind", type=click.Choice(["spectra", "radio", "galaxy"]), default="spectra", show_default=True,
              help="AGN spectra, FIRST-like radio galaxies (compact/FRI/FRII/bent) or barred/unbarred disc galaxies.")
@click.option("--n-type1", type=click.IntRange(min=0), default=680, show_default=True)
@click.option("--n-type2", type=click.IntRange(min=0), default=2145, show_default=True)
@click.option("--n-intermediate", type=click.IntRange(min=0), default=521, show_default=True)
@click.option("--n-per-class", type=click.IntRange(min=0), default=None,
              help="Images: how many of each class (default: 300 radio, 600 galaxy).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the package's fixed seed).")
@click.option("--store", type=click.IntRange(min=1), default=None, metavar="N",
              help="Spectra: write N spectra (millions are fine) straight into OUT/survey_store.h5, a reduced store "
                   "for astroxai survey: noisy copies of 3000 simulated spectra in the type shares above.")
def simulate(out: Path, kind: str, n_type1: int, n_type2: int, n_intermediate: int, n_per_class: int | None,
             seed: int | None, store: int | None):
    """Simulate AGN spectra (SDSS spec-lite FITS) or survey images (FITS cutouts with a WCS).

    Spectra: catalog.csv lists every file with its label, redshift and every true parameter.  Images: the
    cutouts, catalog.csv (every true parameter: bar lengths, S/N, sizes) and images.h5, the ImageSet with the
    ground-truth component masks.
    """
    from astroxai.simulate import DEFAULT_SEED, simulate_sample
    from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample

    start = time.perf_counter()
    if store is not None:
        from astroxai.simulate import survey_store

        if kind != "spectra":
            raise click.UsageError("--store makes spectra only")
        counts = {"type1": n_type1, "type2": n_type2, "intermediate": n_intermediate}
        path = survey_store(out / "survey_store.h5", store, DEFAULT_SEED if seed is None else seed, counts=counts,
                            progress=progress_bar)
        click.echo(f"wrote {store} reduced spectra in {time.perf_counter() - start:.1f} s → {path}")
        return
    if kind == "spectra":
        counts = {"type1": n_type1, "type2": n_type2, "intermediate": n_intermediate}
        path = simulate_sample(out, counts, DEFAULT_SEED if seed is None else seed, progress=progress_bar)
        what = "spectra"
    else:
        counts = (DEFAULT_IMAGE_COUNTS[kind] if n_per_class is None
                  else dict.fromkeys(DEFAULT_IMAGE_COUNTS[kind], n_per_class))
        path = simulate_image_sample(out, kind, counts, DEFAULT_IMAGE_SEED if seed is None else seed,
                                     progress=progress_bar)
        what = f"{kind} images"
    click.echo(f"simulated {sum(counts.values())} {what} in {time.perf_counter() - start:.1f} s → {path}")


@main.command()
@INPUTS
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output SpectraSet (HDF5, e.g. dataset.h5); the manifest goes beside it.")
@CATALOG
@click.option("--range", "wave_range", type=(float, float), default=None, metavar="MIN MAX",
              help="Rest-frame grid range in Å (default: the overlap of all spectra).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Named range: 'paper' = 3728.91–5265.95 Å (Peruzzi et al. 2021).")
@click.option("--n-wave", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--method", type=click.Choice(["linear", "flux-conserving"]), default="linear", show_default=True,
              help="Resampling: linear interpolation (the paper) or flux-conserving rebinning.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Spectra held in memory at once.")
@reports_errors
def reduce(inputs, out, catalog, wave_range, preset, n_wave, method, chunk_size):
    """Reduce spectra: rest frame, normalise at 5100 Å, resample onto a common grid.

    INPUTS are spectrum files (SDSS spec/spec-lite/spSpec FITS, SDSS CSV, text), folders, or catalogue
    CSVs with columns file,label,z.  Every input gets a row in DATASET's manifest (kept, or rejected
    with the reason); the command fails only if no input could be reduced.
    """
    from astroxai.io import collect_inputs
    from astroxai.reduce import RANGE_PRESETS, ReductionSettings
    from astroxai.workflows.reduce import reduce_inputs

    if wave_range is not None and preset is not None:
        raise click.UsageError("give --range or --preset, not both")
    items = collect_inputs(inputs, catalog)
    if not items:
        raise click.ClickException("no spectrum files found in the inputs")
    settings = ReductionSettings(RANGE_PRESETS[preset] if preset else wave_range, n_wave, method)
    summary = reduce_inputs(items, out, settings, chunk_size=chunk_size, progress=progress_bar)
    lo, hi = summary["wave_range"]
    click.echo(f"kept {summary['n_kept']} of {summary['n_inputs']} spectra on {n_wave} points "
               f"{lo:.2f}–{hi:.2f} Å → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in {summary['manifest']}")


#: Catalogues shipped with astroxai for ``fetch --example``.
EXAMPLES = {"vaona2012": "the 2 153 Seyfert 2 and 521 intermediate spectra of Vaona et al. (2012), Peruzzi et al. "
                         "(2021)'s sample of them"}


@main.command()
@click.argument("catalog", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the spectra (spec-PPPP-MMMMM-FFFF.fits), catalog.csv and fetch.manifest.csv.")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)), default=None,
              help="A catalogue shipped with astroxai instead of CATALOG: "
                   + "; ".join(f"{k}: {v}" for k, v in EXAMPLES.items()) + ".")
@click.option("--base-url", default=None, help="The archive (default: the SDSS DR17 Science Archive Server, "
                                                "https://data.sdss.org/sas/dr17), a mirror, or file:// a local copy.")
@click.option("--jobs", type=click.IntRange(min=1, max=16), default=4, show_default=True,
              help="Connections at once (4 is polite to the archive).")
@click.option("--plates", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The archive's plates-dr17.fits: the reduction (run2d) of every plate, instead of trying each.")
@reports_errors
def fetch(catalog: Path | None, out: Path, example: str | None, base_url: str | None, jobs: int,
          plates: Path | None):
    """Download the SDSS spectra a catalogue names by plate, MJD and fibre, checked before they are kept.

    CATALOG is a CSV or Parquet file with columns plate,mjd,fiber (optional run2d, label, z; every other column is
    kept).  Each spectrum is streamed to a temporary name and kept only when it is FITS, complete, readable and the
    spectrum asked for; 429 and 5xx answers are retried with backoff.  Run the same command again to resume: files
    already there are checked, not fetched again.  Then:

    \b
      astroxai fetch --example vaona2012 --out real/
      astroxai run --data real/catalog.csv --out runs/real
    """
    from importlib import resources

    from astroxai.workflows.fetch import DEFAULT_BASE_URL, FetchError
    from astroxai.workflows.fetch import fetch as fetch_spectra

    if (catalog is None) == (example is None):
        raise click.UsageError("give a CATALOG or --example NAME (one of them)")
    if example is not None:
        catalog = Path(str(resources.files("astroxai").joinpath("examples", f"{example}.csv")))
    try:
        summary = fetch_spectra(catalog, out, base_url=base_url or DEFAULT_BASE_URL, jobs=jobs, plates=plates,
                                progress=progress_bar)
    except FetchError as error:
        raise fail(error) from None
    click.echo(f"{summary['fetched']} fetched, {summary['present']} present, {summary['failed']} failed, "
               f"{summary['rejected']} rejected ({summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.0f} s) → "
               f"{summary['catalog']} (every row's fate: {summary['manifest']})")
