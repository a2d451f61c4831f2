"""Reading multi-spectrum files: one synthetic spPlate (640 fibres × 4 637 pixels, flux + ivar + mask HDUs, 36 MB)
reduced fibre by fibre through a catalogue, as ``astroxai reduce`` does.

    python benchmarks/bench_readers.py [--fibres 640] [--repeats 3]

Prints the median wall time of ``reduce_inputs`` (one worker) and spectra per second.  Each fibre is read twice
(coverage pass, then reduction); before the per-process plate cache (``io.sdss._plate``) each read opened and read
the whole file.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from astroxai.io import collect_inputs
from astroxai.workflows.reduce import reduce_inputs


def make_plate(folder: Path, n_fibres: int, n_pix: int = 4637) -> Path:
    rng = np.random.default_rng(0)
    primary = fits.PrimaryHDU((10 * (1 + 0.05 * rng.normal(size=(n_fibres, n_pix)))).astype(np.float32))
    primary.header.update(COEFF0=3.5529, COEFF1=1e-4, PLATEID=4055, MJD=55359)
    hdus = [primary, fits.ImageHDU(np.full((n_fibres, n_pix), 4.0, np.float32)),
            fits.ImageHDU(np.zeros((n_fibres, n_pix), np.int32))]
    fits.HDUList(hdus).writeto(folder / "spPlate-4055-55359.fits")
    catalogue = folder / "plate.csv"
    catalogue.write_text("file,fiber,z\n" + "".join(f"spPlate-4055-55359.fits,{k},0.1\n"
                                                     for k in range(1, n_fibres + 1)))
    return catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fibres", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        catalogue = make_plate(Path(folder), args.fibres)
        seconds = []
        for k in range(args.repeats):
            start = time.perf_counter()
            summary = reduce_inputs(collect_inputs([catalogue]), Path(folder) / f"out{k}.h5", workers=1)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        print(f"spPlate, {args.fibres} fibres: reduce median {median:.2f} s over {args.repeats} runs "
              f"({summary['n_kept']} kept) = {args.fibres / median:.0f} spectra/s")


if __name__ == "__main__":
    main()
