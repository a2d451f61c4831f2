"""A seeded corpus of malformed and hostile inputs, written at test time (what a hostile or careless input can be):
spectrum files, catalogues, HDF5 data sets, image files and model folders, each with the fate a careful reader must give
it.

Nothing here is committed as a binary: every file is made from a good input (a simulated spectrum, a trained model)
by a small, named damage, so the corpus follows the formats when they change.  ``expect`` is ``"kept"`` for inputs a
command must use, ``"rejected"`` for those it must refuse with a reason, and ``"refused"`` for model folders and data
sets that must stop the command with a clear error (no traceback, nothing written).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from astropy.io import fits

#: Text that must never appear in an output: the corpus' stand-in for a secret in a file it points at.
SECRET = "agent7:x:0:0:secret-line:/home/agent7:/bin/zsh"


@dataclass
class Case:
    """One input of the corpus: its path (as bytes where the name is not UTF-8), what a reader must do with it,
    and the damage done, for messages."""

    path: Path | bytes
    expect: str
    damage: str
    kind: str = "spectrum"

    @property
    def name(self) -> str:
        return os.fsdecode(self.path).rsplit("/", 1)[-1]


@dataclass
class Corpus:
    root: Path
    cases: list[Case] = field(default_factory=list)

    def add(self, path, expect, damage, kind):
        self.cases.append(Case(path, expect, damage, kind))
        return path

    def of(self, kind: str) -> list[Case]:
        return [case for case in self.cases if case.kind == kind]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case in self.cases:
            counts[case.kind] = counts.get(case.kind, 0) + 1
        return counts


def _secret_file(root: Path) -> Path:
    path = root / "secret.txt"
    path.write_text(f"{SECRET}\nsecond line\n")
    return path


def _replace_column(path: Path, target: Path, **changes) -> Path:
    """Copy a spec-lite file with COADD columns changed (name → array, or None to drop the column)."""
    with fits.open(path) as hdus:
        coadd = hdus[1].data
        columns = []
        for column in hdus[1].columns:
            if column.name in changes:
                if changes[column.name] is None:
                    continue
                columns.append(fits.Column(column.name, column.format, array=changes[column.name]))
            else:
                columns.append(fits.Column(column.name, column.format, array=coadd[column.name]))
        out = fits.HDUList([fits.PrimaryHDU(header=hdus[0].header), fits.BinTableHDU.from_columns(columns),
                            *[hdu.copy() for hdu in hdus[2:]]])
        out.writeto(target, overwrite=True)
    return target


def _without_redshift(path: Path, target: Path) -> Path:
    """Drop every redshift the reader could find (SPECOBJ table and header cards)."""
    with fits.open(path) as hdus:
        hdulist = [hdus[0].copy(), hdus[1].copy()]
    for h in hdulist:
        for key in ("Z", "REDSHIFT"):
            h.header.remove(key, ignore_missing=True)
    fits.HDUList(hdulist).writeto(target, overwrite=True)
    return target


def spectrum_corpus(good: list[Path], root: Path, seed: int = 0) -> Corpus:
    """Raw spectrum files in one folder: ``good`` copied under safe and unsafe names, and damaged copies of them."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    secret = _secret_file(root)
    folder = root / "spectra"
    folder.mkdir()
    corpus = Corpus(folder)
    base = good[0]
    raw = base.read_bytes()
    n = fits.getdata(base, 1)["flux"].size

    def add(name, expect, damage):
        return corpus.add(folder / name, expect, damage, "spectrum")

    shutil.copy(good[0], add("good-a.fits", "kept", "none"))
    shutil.copy(good[1], add("=HYPERLINK(1).fits", "kept", "formula-like name"))
    shutil.copy(good[2], add("s" * 230 + ".fits", "kept", "230-character name"))
    shutil.copy(good[3], add("$\\frac{x$.fits", "kept", "broken mathtext name"))
    if os.name == "posix":
        name = os.fsencode(folder) + b"/spec-\xff\xfe.fits"
        shutil.copy(os.fsencode(good[4]), name)
        corpus.add(name, "kept", "non-UTF-8 name", "spectrum")
    with open(good[0], "rb") as source, gzip.open(add("good-a.fits.gz", "rejected", "duplicate of good-a"),
                                                  "wb") as target:
        target.write(source.read())
    add("empty.fits", "rejected", "empty file").write_bytes(b"")
    for fraction in (0.1, 0.5, 0.97):
        damaged = add(f"truncated-{fraction}.fits", "rejected", f"truncated at {fraction:.0%}")
        damaged.write_bytes(raw[: int(len(raw) * fraction)])
    add("text.fits", "rejected", "text named .fits").write_text("SIMPLE = not really\n" * 40)
    add("random.fits", "rejected", "random bytes").write_bytes(rng.bytes(8640))
    add("random.fits.gz", "rejected", "random bytes named .gz").write_bytes(rng.bytes(3000))
    add("badgzip.fits.gz", "rejected", "gzip of garbage").write_bytes(gzip.compress(rng.bytes(5000))[:-20])
    # a header only: 36 cards claiming a 10^9-pixel image that is not there
    header = fits.Header({"SIMPLE": True, "BITPIX": -32, "NAXIS": 2, "NAXIS1": 100_000, "NAXIS2": 10_000})
    add("bomb.fits", "rejected", "header claiming 4 GB").write_bytes(header.tostring().encode())
    _replace_column(base, add("nan-flux.fits", "rejected", "every flux NaN"), flux=np.full(n, np.nan, np.float32))
    _replace_column(base, add("inf-flux.fits", "rejected", "every flux inf"), flux=np.full(n, np.inf, np.float32))
    _replace_column(base, add("zero-ivar.fits", "rejected", "every ivar 0"), ivar=np.zeros(n, np.float32))
    _replace_column(base, add("no-flux.fits", "rejected", "no flux column"), flux=None)
    _replace_column(base, add("no-loglam.fits", "rejected", "no loglam column"), loglam=None)
    _replace_column(base, add("far-red.fits", "rejected", "wavelengths off the grid"),
                    loglam=(np.log10(20000.0) + 1e-4 * np.arange(n)).astype(np.float32))
    _replace_column(base, add("reversed.fits", "rejected", "wavelength decreasing"),
                    loglam=fits.getdata(base, 1)["loglam"][::-1].copy())
    with fits.open(base) as hdus:
        copy = fits.HDUList([h.copy() for h in hdus])
    copy[2].data["Z"][0] = -0.9
    copy.writeto(add("z-negative.fits", "rejected", "z = -0.9"))
    _without_redshift(base, add("no-z.fits", "rejected", "no redshift anywhere"))
    fits.HDUList([fits.PrimaryHDU(header=fits.getheader(base))]).writeto(
        add("primary-only.fits", "rejected", "no COADD extension"))
    add("table.txt", "rejected", "text table of words").write_text(f"{SECRET}\nword word word\n")
    add("numbers.csv", "rejected", "CSV with a word in the numbers").write_text(
        "wavelength,flux\n" + "".join(f"{4000 + i},1.0\n" for i in range(50)) + f"4100,{SECRET}\n")
    add("short.txt", "rejected", "three pixels").write_text("# z = 0.1\n4000 1 0.1\n4001 1 0.1\n4002 1 0.1\n")
    os.symlink(secret, add("passwd.fits", "rejected", "link to a text file"))
    os.symlink(folder / "gone.fits", add("dangling.fits", "rejected", "dangling link"))
    return corpus


def catalogue_corpus(good: list[Path], corpus: Corpus) -> Path:
    """A catalogue (file,label,z) mixing good rows with broken ones; each row is a case named ``row N``."""
    notes = corpus.root.parent / "notes.txt"
    notes.write_text(f"{SECRET}\n")
    rows = [
        (f"{good[0]},type1,0.05", "kept", "good row"),
        (",type2,0.3", "rejected", "empty file cell"),
        ("x" * 200_000 + ",type1,0.1", "rejected", "cell over the csv field limit"),
        (f"{good[1]},{'y' * 5000},0.2", "rejected", "5000-character label"),
        (f"{good[1]},=cmd|' /C calc'!A0,0.05", "kept", "formula label"),
        (f"{corpus.root}/missing.fits,type1,0.1", "rejected", "missing file"),
        (f"{good[2]},type1,abc", "rejected", "z not a number"),
        (f"{good[2]},type1,nan", "rejected", "z NaN"),
        (f"{notes},type1,0.1", "rejected", "a text file"),
        (f"{good[2]},type1,0.05,extra,cells", "rejected", "too many cells"),
        (f"{good[0]},type2,0.05", "rejected", "the same file as row 2"),
        (f"{good[3]},type2", "kept", "z left to the file"),
    ]
    path = corpus.root.parent / "catalogue.csv"
    with open(path, "wb") as handle:
        handle.write(b"file,label,z\n")
        for number, (text, expect, damage) in enumerate(rows, start=2):
            handle.write(text.encode() + b"\n")
            corpus.add(f"row {number}", expect, damage, "catalogue")
        handle.write(f"{good[4]},type\xff2,0.3\n".encode("latin-1"))
        corpus.add(f"row {len(rows) + 2}", "rejected", "byte that is not UTF-8", "catalogue")
    return path


def dataset_corpus(good: Path, root: Path) -> Corpus:
    """HDF5 data sets: each is a damaged copy of the good one.  ``expect`` is ``"refused"`` (the command stops with a
    clear error) or ``"kept"`` (usable, the damage is handled row by row)."""
    root.mkdir(parents=True, exist_ok=True)
    secret = _secret_file(root)
    corpus = Corpus(root)

    def copy(name, expect, damage):
        path = corpus.add(root / name, expect, damage, "dataset")
        shutil.copy(good, path)
        return path

    def edit(name, expect, damage, change):
        path = copy(name, expect, damage)
        with h5py.File(path, "r+") as handle:
            change(handle)
        return path

    def replace(handle, key, data, **options):
        del handle[key]
        handle.create_dataset(key, data=data, **options)

    raw = good.read_bytes()
    for fraction in (0.02, 0.6):
        path = corpus.add(root / f"truncated-{fraction}.h5", "refused", f"truncated at {fraction:.0%}", "dataset")
        path.write_bytes(raw[: int(len(raw) * fraction)])
    corpus.add(root / "text.h5", "refused", "text named .h5", "dataset").write_text("not HDF5\n")

    def external(handle):
        n, m = handle["flux"].shape
        del handle["flux"]
        handle.create_dataset("flux", shape=(n, m), dtype="f4", external=[(str(secret), 0, h5py.h5f.UNLIMITED)])

    edit("external.h5", "refused", "flux stored in another file", external)

    def virtual(handle):
        n, m = handle["flux"].shape
        layout = h5py.VirtualLayout(shape=(n, m), dtype="f4")
        layout[:] = h5py.VirtualSource(str(good), "flux", shape=(n, m))
        del handle["flux"]
        handle.create_virtual_dataset("flux", layout, fillvalue=0)

    edit("virtual.h5", "refused", "virtual flux", virtual)

    def bomb(handle):
        n, m = handle["flux"].shape
        del handle["flux"]
        handle.create_dataset("flux", shape=(4_000_000, 1000), dtype="f4", chunks=(1000, 1000))

    edit("bomb.h5", "refused", "declares 16 GB it does not hold", bomb)
    edit("no-flux.h5", "refused", "no flux", lambda h: h.__delitem__("flux"))
    edit("short-ids.h5", "refused", "fewer ids than rows",
         lambda h: replace(h, "ids", h["ids"][()][:-3]))
    edit("text-flux.h5", "refused", "flux of strings",
         lambda h: replace(h, "flux", np.full(h["flux"].shape[0], b"x" * 8)))
    edit("grid-unsorted.h5", "refused", "wavelength grid not increasing",
         lambda h: replace(h, "wavelength", h["wavelength"][()][::-1]))

    def nan_rows(handle):
        flux = handle["flux"][()]
        flux[1] = np.nan
        flux[5, 3] = np.inf
        replace(handle, "flux", flux)

    edit("nan-rows.h5", "kept", "two non-finite rows", nan_rows)

    def hostile_ids(handle):
        ids = handle["ids"][()].astype(object)
        ids[0] = ("/.." * 20 + "/tmp/escaped").encode()
        ids[1] = b"=1+1"
        ids[2] = b"$\\frac{x$"
        ids[3] = b"z" * 300
        replace(handle, "ids", ids.astype("S"))

    edit("hostile-ids.h5", "kept", "ids that are paths, formulas and long", hostile_ids)
    return corpus


def _png(width: int, height: int, pixels: bytes | None = None, *, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG written by hand so that its header can lie: IHDR says ``width × height``, IDAT holds ``pixels``."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    body = zlib.compress(pixels if pixels is not None else b"\x00" * ((width + 1) * min(height, 4)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def image_corpus(good: list[Path], root: Path, size: int, seed: int = 0) -> Corpus:
    """Image files for an image model of ``size × size`` pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root)

    def add(name, expect, damage):
        return corpus.add(root / name, expect, damage, "image")

    for i, path in enumerate(good[:2]):
        shutil.copy(path, add(f"good-{i}{path.suffix}", "kept", f"none ({i})"))
    shutil.copy(good[2], add("=cmd" + good[2].suffix, "kept", "formula-like name"))
    add("bomb.png", "rejected", "header claiming 40000 × 40000").write_bytes(_png(40_000, 40_000))
    add("empty.png", "rejected", "empty file").write_bytes(b"")
    data = good[0].read_bytes()
    add("truncated" + good[0].suffix, "rejected", "truncated").write_bytes(data[: len(data) // 3])
    pixels = (rng.random((size, size)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(add("good.png", "kept", "none (PNG)"))
    png = (root / "good.png").read_bytes()
    add("truncated.png", "rejected", "truncated PNG").write_bytes(png[: len(png) // 2])
    add("text.png", "rejected", "text named .png").write_text("not an image\n")
    add("random.png", "rejected", "random bytes").write_bytes(rng.bytes(2000))
    Image.fromarray(np.zeros((size + 7, size // 2), np.uint8)).save(add("wrong-size.png", "rejected", "wrong size"))
    fits.PrimaryHDU(np.full((size, size), np.nan, np.float32)).writeto(add("nan.fits", "rejected", "all NaN"))
    fits.PrimaryHDU(np.zeros((3, 3, size, size), np.float32)).writeto(add("cube.fits", "rejected", "4-D"))
    return corpus


def model_corpus(good: Path, root: Path) -> Corpus:
    """Damaged copies of a saved spectra SVM folder; every one must be refused on load."""
    import pickle

    root.mkdir(parents=True, exist_ok=True)
    secret = _secret_file(root)
    corpus = Corpus(root)
    meta = json.loads((good / "model.json").read_text())

    def copy(name, damage):
        folder = corpus.add(root / name, "refused", damage, "model")
        shutil.copytree(good, folder)
        return folder

    def with_meta(name, damage, change):
        folder = copy(name, damage)
        changed = json.loads(json.dumps(meta))
        change(changed)
        (folder / "model.json").write_text(json.dumps(changed))
        return folder

    (copy("invalid-json", "model.json not JSON") / "model.json").write_text("{ not json")
    (copy("json-list", "model.json a list") / "model.json").write_text("[1, 2, 3]")
    (copy("empty-json", "model.json empty") / "model.json").write_text("")
    with_meta("no-classes", "no classes key", lambda m: m.pop("classes"))
    with_meta("classes-number", "classes a number", lambda m: m.__setitem__("classes", 3))
    with_meta("renamed-classes", "classes renamed", lambda m: m.__setitem__("classes", ["a", "b", "c"]))
    with_meta("grid-shifted", "grid shifted 500 Å",
              lambda m: m.__setitem__("wavelength", [w + 500 for w in m["wavelength"]]))
    with_meta("grid-text", "grid of words", lambda m: m.__setitem__("wavelength", ["x"] * 5))
    with_meta("nan-platt", "NaN Platt parameter", lambda m: m["probability"]["A"].__setitem__(0, float("nan")))
    with_meta("bad-checksum", "checksum differs", lambda m: m.__setitem__("sha256", "0" * 64))
    with_meta("unknown-kind", "unknown estimator kind", lambda m: m.__setitem__("kind", "os.system"))
    folder = copy("pickle-payload", "a pickle in place of the skops file")
    (folder / "model.skops").write_bytes(pickle.dumps(os.getcwd))
    folder = copy("no-estimator", "estimator file missing")
    (folder / "model.skops").unlink()
    folder = copy("linked-estimator", "estimator file a link to a text file")
    (folder / "model.skops").unlink()
    os.symlink(secret, folder / "model.skops")
    corpus.add(root / "not-a-folder", "refused", "a file, not a folder", "model").write_text("x")
    return corpus


def command_line(command: str, out: Path, inputs, *, model=None,
                 figures: int | None = None) -> tuple[list, Path | None]:
    """The arguments of one corpus call of ``astroxai COMMAND`` on ``inputs`` (with ``model`` for the commands that
    take one) writing into ``out``, and the table of per-input fates it writes there (None for ``train``,
    ``evaluate`` and ``embed``, which refuse a bad set as a whole)."""
    inputs = list(inputs)
    if command == "reduce":
        return ["reduce", *inputs, "--out", out / "set.h5", "--preset", "paper"], out / "set.manifest.csv"
    if command == "predict":
        return ["predict", model, *inputs, "--out", out / "p.csv"], out / "p.csv"
    if command == "explain":
        extra = [] if figures is None else ["--max-figures", str(figures)]
        return ["explain", model, *inputs, "--out", out, *extra], out / "explanations.csv"
    if command == "train":
        return ["train", *inputs, "--out", out, "--quick", "--timing-repeats", "0", "--kernels", "linear"], None
    if command == "evaluate":
        return ["evaluate", model, *inputs, "--out", out], None
    if command == "embed":
        return ["embed", *inputs, "--out", out, "--perplexity", "5"], None
    raise ValueError(f"no corpus call for {command!r}")


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (links not followed), for "nothing written outside --out" checks."""
    found = set()
    for folder, folders, files in os.walk(os.fsencode(root)):
        for name in folders + files:
            found.add(os.fsdecode(os.path.join(folder, name)))
    return found
