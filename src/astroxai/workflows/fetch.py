"""``astroxai fetch``: the SDSS spectra of a catalogue of plate, MJD and fibre, from the Science Archive Server (or a
mirror, or a local copy) — parallel, resumable, and checked before they are kept.

The archive's DR17 layout of ``spec-lite`` files (the SDSS ``tree`` configuration; ``sdss_access``'s ``spectrodir``):

* SDSS-I/II plates, reduction (``run2d``) 26, 103 or 104:
  ``sdss/spectro/redux/{run2d}/spectra/lite/{plate:04d}/spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits``;
* BOSS/eBOSS plates, reduction v5_13_2:
  ``eboss/spectro/redux/v5_13_2/spectra/lite/{plate:04d}/spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits``.

No public rule maps a plate to its ``run2d``.  A catalogue may say it (column ``run2d``); the archive's own
``plates-dr17.fits`` (``--plates``) does for every plate; otherwise the reductions are tried in :func:`run2d_order`
(BOSS plates are numbered from 3510, so the SDSS-I/II reductions go first below it, v5_13_2 first above it) until
one answers, and the one found is recorded in the manifest.

Why ``requests`` with urllib3's ``Retry`` and not a ready-made client: astroquery's ``SDSS.get_spectra`` asks
SkyServer about every object and downloads one file at a time, and its issues record 404s after the archive's
layout changed and an HTML error page parsed as a table; ``sdss-access`` downloads without a timeout or a retry and
straight to the final name, so an interrupted file stays there truncated; pooch fetches files it knows by hash in
advance, which a catalogue of thousands of spectra does not have.  Here a thread pool of ``jobs`` connections
(default 4: polite to the archive) shares one connection pool; 429 and 5xx answers are retried with exponential
backoff and ``Retry-After`` is honoured; connect and read have timeouts; a body cut short is fetched again.

Every file is streamed to a temporary name and renamed only once it is checked: FITS and not an HTML page, as many
bytes as announced, readable by astroxai's SDSS reader, and the spectrum asked for (the file's own ``PLATE``,
``MJD`` and ``FIBERID``).  A re-run asks only for what is missing or failed: a file already present is opened and
checked, not trusted by its name.  The folder gets ``catalog.csv`` (the catalogue's columns plus ``file``: ready for
``reduce`` and ``run --data``) and ``fetch.manifest.csv`` (every catalogue row once: fetched, present, failed or
rejected, with the reason and the URL tried).
"""

from __future__ import annotations

import csv
import logging
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from astroxai.data import atomic_path, csv_safe
from astroxai.errors import AstroxaiError, InputError
from astroxai.progress import track
from astroxai.report.layout import FetchFiles

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.sdss.org/sas/dr17"
SDSS_RUN2D = ("26", "103", "104")
BOSS_RUN2D = ("v5_13_2",)
#: The first BOSS plate number (SDSS-I/II plates are numbered below it).
FIRST_BOSS_PLATE = 3510
DEFAULT_JOBS = 4
#: (connect, read) seconds.
DEFAULT_TIMEOUT = (10.0, 60.0)
#: Reads of a body that was cut short before the spectrum counts as failed.
BODY_ATTEMPTS = 3
MANIFEST_COLUMNS = ("row", "plate", "mjd", "fiber", "run2d", "file", "status", "reason", "url", "bytes")
FITS_MAGIC = b"SIMPLE  ="


class FetchError(AstroxaiError, RuntimeError):
    """Nothing could be fetched: the archive cannot be reached, or no row of the catalogue gave a spectrum."""


@dataclass(frozen=True)
class Target:
    """One catalogue row asking for a spectrum."""

    row: int
    plate: int
    mjd: int
    fiber: int
    run2d: str | None = None
    columns: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        return f"spec-{self.plate:04d}-{self.mjd:05d}-{self.fiber:04d}.fits"

    @property
    def ident(self) -> str:
        """How astroxai's reader names the spectrum (``PLATE-MJD-FIBER``)."""
        return f"{self.plate:04d}-{self.mjd:05d}-{self.fiber:04d}"


def spectrum_path(target: Target, run2d: str) -> str:
    """The archive path of a target's ``spec-lite`` file in reduction ``run2d`` (below the base URL)."""
    survey = "eboss" if run2d in BOSS_RUN2D else "sdss"
    return f"{survey}/spectro/redux/{run2d}/spectra/lite/{target.plate:04d}/{target.name}"


def run2d_order(target: Target, plates: dict | None = None) -> tuple[str, ...]:
    """The reductions to try for a target, in order: its own, the plates table's, then SDSS-I/II first for plates
    below 3510 and BOSS first above (every one is tried before the target counts as missing)."""
    known = target.run2d or (plates or {}).get((target.plate, target.mjd))
    order = SDSS_RUN2D + BOSS_RUN2D if target.plate < FIRST_BOSS_PLATE else BOSS_RUN2D + SDSS_RUN2D
    return (known,) if known else order


def _integer(value) -> int | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _check_row(row: dict) -> tuple[tuple | None, str]:
    """``(plate, mjd, fiber)`` of a catalogue row, or the reason it cannot name a spectrum."""
    found = {}
    for name in ("plate", "mjd", "fiber"):
        value = row.get(name, "")
        if value in ("", None):
            return None, f"no {name}"
        found[name] = _integer(value)
        if found[name] is None or found[name] < 0:
            return None, f"{name} {str(value)[:40]!r} is not a non-negative integer"
    if not 1 <= found["fiber"] <= 1000:
        return None, f"fiber {found['fiber']} is outside 1–1000"
    return (found["plate"], found["mjd"], found["fiber"]), ""


def read_targets(catalog) -> tuple[list[Target], list[dict], list[str]]:
    """The targets of a catalogue (CSV or Parquet with ``plate``, ``mjd``, ``fiber``/``fiberid``; optional
    ``run2d``; other columns kept), the manifest rows of the rows that name no spectrum or one already asked for,
    and the catalogue's columns."""
    rows = _catalog_rows(Path(catalog))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    targets, rejected, seen = [], [], {}
    for number, row in enumerate(rows, start=1):
        if "fiber" not in row and "fiberid" in row:
            row = {**row, "fiber": row["fiberid"]}
        triple, reason = _check_row(row)
        if triple is not None and triple in seen:
            reason = f"the same spectrum as row {seen[triple]}"
        if reason:
            rejected.append(_manifest_row(number, row, status="rejected", reason=reason))
            continue
        seen[triple] = number
        run2d = str(row.get("run2d") or "").strip() or None
        targets.append(Target(number, *triple, run2d, dict(row)))
    return targets, rejected, columns


def _catalog_rows(path: Path) -> list[dict]:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return [{k.strip().lower(): ("" if v is None else str(v)) for k, v in row.items()} for row in table.to_pylist()]
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(handle)]


def read_plates(path) -> dict:
    """``(plate, mjd) → run2d`` from the archive's ``plates-dr17.fits`` (columns ``PLATE``, ``MJD``, ``RUN2D``)."""
    from astropy.io import fits

    with fits.open(path) as hdus:
        table = hdus[1].data
        return {(int(p), int(m)): str(r).strip() for p, m, r in zip(table["PLATE"], table["MJD"], table["RUN2D"],
                                                                     strict=True)}


def _manifest_row(number: int, row: dict, **values) -> dict:
    base = {"row": number, "plate": row.get("plate", ""), "mjd": row.get("mjd", ""), "fiber": row.get("fiber", ""),
            "run2d": "", "file": "", "status": "", "reason": "", "url": "", "bytes": 0}
    return {**base, **values}


def check_file(path: Path, target: Target) -> str:
    """Why a file is not the spectrum asked for (``""`` when it is): not FITS (an HTML page), unreadable by
    astroxai's SDSS reader, or another plate, MJD or fibre in its own header."""
    from astroxai.io import read_spectrum
    from astroxai.spectrum import SpectrumError

    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head.startswith(FITS_MAGIC):
        looks = head.lstrip()[:15].lower()
        return ("the server sent an HTML page, not FITS" if looks.startswith((b"<!doctype", b"<html", b"<"))
                else "not a FITS file")
    try:
        spectrum = read_spectrum(path)
    except (SpectrumError, OSError, ValueError) as error:
        return f"not a spectrum astroxai can read ({str(error)[:160]})"
    if spectrum.id != target.ident:
        return f"holds spectrum {spectrum.id}, not {target.ident}"
    return ""


def make_session(jobs: int = DEFAULT_JOBS, backoff: float = 1.0, retries: int = 4):
    """A ``requests`` session whose ``jobs`` pooled connections retry 429 and 5xx answers (exponential backoff from
    ``backoff`` seconds, ``Retry-After`` honoured) and failed connects and reads."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util import Retry

    retry = Retry(total=retries, connect=2, read=2, status=retries, backoff_factor=backoff,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET"}),
                  respect_retry_after_header=True, raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=jobs, pool_maxsize=jobs)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "astroxai-fetch (+https://github.com/astroxai)"
    return session


class Archive:
    """Where the spectra come from: an HTTP(S) base URL (through :func:`make_session`) or a ``file://`` copy."""

    def __init__(self, base_url: str, jobs: int = DEFAULT_JOBS, timeout=DEFAULT_TIMEOUT, backoff: float = 1.0):
        self.base_url = base_url.rstrip("/")
        parsed = urlparse(self.base_url)
        self.local = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else None
        if parsed.scheme not in ("http", "https", "file"):
            raise InputError(f"--base-url {base_url!r}: give an http(s):// or file:// address")
        self.timeout = timeout
        self.session = None if self.local is not None else make_session(jobs, backoff)
        self.transferred = 0
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def check_reachable(self) -> None:
        """One clear :class:`FetchError` when the archive cannot be reached at all (any HTTP answer will do)."""
        if self.local is not None:
            if not self.local.is_dir():
                raise FetchError(f"{self.base_url}: no such folder")
            return
        import requests

        try:
            self.session.get(self.base_url + "/", timeout=self.timeout, stream=True).close()
        except requests.RequestException as error:
            raise FetchError(f"cannot reach {self.base_url} ({type(error).__name__}): check the network or give "
                             "a mirror with --base-url") from None

    def download(self, path: str, temporary: Path) -> tuple[int | None, str]:
        """Fetch ``path`` into ``temporary``; ``(HTTP status or None, reason)`` — status 200 and no reason when the
        whole body arrived."""
        if self.local is not None:
            source = self.local / path
            if not source.is_file():
                return 404, "not found"
            shutil.copyfile(source, temporary)
            return 200, ""
        return self._http(self.url(path), temporary)

    def _http(self, url: str, temporary: Path) -> tuple[int | None, str]:
        import requests

        reason = ""
        for attempt in range(BODY_ATTEMPTS):
            received, announced = 0, None
            try:
                with self.session.get(url, timeout=self.timeout, stream=True) as response:
                    if response.status_code != 200:
                        return response.status_code, f"HTTP {response.status_code} {response.reason}"
                    announced = response.headers.get("Content-Length")
                    with open(temporary, "wb") as handle:
                        for chunk in response.iter_content(1 << 16):
                            handle.write(chunk)
                            received += len(chunk)
                if announced is None or received >= int(announced):
                    return 200, ""
                reason = f"only {received} of the {announced} bytes announced arrived"
            except requests.exceptions.RequestException as error:
                if isinstance(error, requests.exceptions.Timeout) or "timed out" in str(error).lower():
                    reason = "timed out"
                elif received:
                    of = f" of the {announced} bytes announced" if announced else " bytes"
                    reason = f"the connection dropped after {received}{of}"
                else:
                    reason = f"connection failed ({type(error).__name__})"
            finally:
                with self._lock:
                    self.transferred += received
            time.sleep(min(2.0, 0.2 * 2**attempt))
        return None, reason


def fetch_target(archive: Archive, target: Target, files: FetchFiles, plates: dict | None = None) -> dict:
    """Fetch one target into ``files`` (or find it there, sound); its manifest row.  Each reduction of
    :func:`run2d_order` is asked in turn until one has the file; what arrives goes to a temporary name and is
    renamed only once :func:`check_file` passes it."""
    final = files.spectrum(target.name)
    row = _manifest_row(target.row, target.columns, plate=target.plate, mjd=target.mjd, fiber=target.fiber)
    if final.is_file():
        problem = check_file(final, target)
        if not problem:
            return {**row, "status": "present", "file": final.name}
        log.info("%s is there but unusable (%s): fetching it again", final.name, problem)
    order, tried = run2d_order(target, plates), []
    temporary = final.with_name(f".{final.name}.partial")
    for run2d in order:
        path = spectrum_path(target, run2d)
        url = archive.url(path)
        try:
            status, reason = archive.download(path, temporary)
            if status == 404:
                tried.append(url)
                continue
            size = temporary.stat().st_size if temporary.is_file() else 0
            if status != 200:
                return {**row, "run2d": run2d, "status": "failed", "reason": reason, "url": url, "bytes": size}
            problem = check_file(temporary, target)
            if problem:
                return {**row, "run2d": run2d, "status": "failed", "reason": problem, "url": url, "bytes": size}
            temporary.replace(final)
            return {**row, "run2d": run2d, "status": "fetched", "file": final.name, "url": url, "bytes": size}
        finally:
            temporary.unlink(missing_ok=True)  # nothing partial or rejected stays, under any name
    return {**row, "status": "failed", "reason": f"not found in reduction {' or '.join(order)}",
            "url": " ".join(tried)}


def fetch(catalog, out, *, base_url: str = DEFAULT_BASE_URL, jobs: int = DEFAULT_JOBS, plates=None,
          timeout=DEFAULT_TIMEOUT, backoff: float = 1.0, progress=None) -> dict:
    """``astroxai fetch``: every spectrum a catalogue names, into ``out`` (see the module doc).  Returns the counts
    (fetched, present, failed, rejected), the bytes transferred and the paths of the manifest and the catalogue;
    :class:`FetchError` when nothing could be fetched or found present, or the archive cannot be reached."""
    start = time.perf_counter()
    files = FetchFiles(out)
    files.folder.mkdir(parents=True, exist_ok=True)
    targets, rejected, columns = read_targets(catalog)
    table = read_plates(plates) if plates else None
    archive = Archive(base_url, jobs, timeout, backoff)
    if not all(files.spectrum(t.name).is_file() for t in targets):
        archive.check_reachable()
    with ThreadPoolExecutor(max(1, int(jobs))) as pool:
        rows = list(track(progress, pool.map(lambda t: fetch_target(archive, t, files, table), targets),
                          "fetching", len(targets)))
    rows = sorted(rows + rejected, key=lambda r: r["row"])
    _write_outputs(files, rows, columns, {t.row: t for t in targets})
    counts = {status: sum(r["status"] == status for r in rows) for status in ("fetched", "present", "failed",
                                                                              "rejected")}
    summary = {**counts, "rows": len(rows), "bytes": archive.transferred, "seconds": time.perf_counter() - start,
               "manifest": str(files.manifest), "catalog": str(files.catalog)}
    log.info("fetch: %d fetched, %d present, %d failed, %d rejected (%.1f MB in %.1f s) → %s", counts["fetched"],
             counts["present"], counts["failed"], counts["rejected"], archive.transferred / 1e6, summary["seconds"],
             files.folder)
    if not counts["fetched"] + counts["present"]:
        raise FetchError(f"no spectrum could be fetched (reasons in {files.manifest})")
    return summary


def _write_outputs(files: FetchFiles, rows: list[dict], columns: list[str], targets: dict) -> None:
    """``fetch.manifest.csv`` (every row) and ``catalog.csv`` (the rows with a spectrum: their columns and ``file``)."""
    with atomic_path(files.manifest) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(csv_safe(r) for r in rows)
    names = [c for c in columns if c != "file"] + ["file"]
    with atomic_path(files.catalog) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            if r["status"] in ("fetched", "present"):
                writer.writerow(csv_safe({**targets[r["row"]].columns, "file": r["file"]}))


__all__ = ["DEFAULT_BASE_URL", "Archive", "FetchError", "Target", "check_file", "fetch", "fetch_target",
           "read_plates", "read_targets", "run2d_order", "spectrum_path"]
