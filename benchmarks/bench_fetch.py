"""The fetch rate of ``astroxai fetch`` against a loopback HTTP server with ``--jobs 1`` and ``--jobs 4``, and what a
re-run of the same catalogue transfers (nothing).

Usage:  python benchmarks/bench_fetch.py [--spectra 200] [--latency 0.05]

The server (``http.server`` in a thread) holds ``--spectra`` SDSS ``spec`` files of the archive's DR17 layout,
written with astroxai's SDSS writer under distinct plate-MJD-fibre, and waits ``--latency`` seconds before each
answer (a stand-in for the round trip to the archive: on loopback alone the transfer costs almost nothing and the
checks dominate).  It prints spectra per second, MB per second and the seconds for each setting, and the bytes and
seconds of the re-run.  Quote the numbers with what else the machine was doing.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from astroxai.io.sdss import SpecObj, write_sdss_spec
from astroxai.workflows.fetch import Target, fetch, spectrum_path


def build_archive(root: Path, n: int) -> Path:
    """``n`` spectra below ``root`` in the BOSS layout, and the catalogue asking for them."""
    rng = np.random.default_rng(1)
    loglam = 3.5798 + 1e-4 * np.arange(4000)
    rows = ["plate,mjd,fiber,label"]
    for k in range(n):
        target = Target(k, 4000 + k // 1000, 55000, k % 1000 + 1)
        path = root / spectrum_path(target, "v5_13_2")
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = {"loglam": loglam, "flux": 10 + rng.normal(size=loglam.size), "ivar": np.full(loglam.size, 4.0)}
        write_sdss_spec(path, columns, SpecObj(target.plate, target.mjd, target.fiber, 0.05))
        rows.append(f"{target.plate},{target.mjd},{target.fiber},x")
    catalogue = root / "wanted.csv"
    catalogue.write_text("\n".join(rows) + "\n")
    return catalogue


def serve(root: Path, latency: float):
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            time.sleep(latency)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spectra", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        catalogue = build_archive(work / "archive", args.spectra)
        httpd, base = serve(work / "archive", args.latency)
        try:
            print(f"{args.spectra} spectra, {args.latency * 1e3:.0f} ms per answer, loopback")
            for jobs in (1, 4):
                out = work / f"jobs{jobs}"
                summary = fetch(catalogue, out, base_url=base, jobs=jobs)
                rate = summary["fetched"] / summary["seconds"]
                print(f"  --jobs {jobs}: {summary['fetched']} fetched in {summary['seconds']:.2f} s: {rate:.1f} "
                      f"spectra/s, {summary['bytes'] / 1e6 / summary['seconds']:.2f} MB/s")
            again = fetch(catalogue, work / "jobs4", base_url=base, jobs=4)
            print(f"  re-run: {again['present']} present, {again['fetched']} fetched, {again['bytes']} bytes "
                  f"transferred in {again['seconds']:.2f} s")
        finally:
            httpd.shutdown()


if __name__ == "__main__":
    main()
