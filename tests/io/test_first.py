"""The real FIRST radio galaxies of Griese et al. (2023), read from the installed ``firstgalaxydata`` wheel (a data
carrier installed with ``--no-deps`` by the README's test command and .ci/run; never imported).

Expected values come from the archive itself (its folder listing, Pillow's own box reduction of the PNGs) and from
the data set's publication (2 158 sources: FR I 495, FR II 924, compact 391, bent 348; a 1 758 / 200 / 200 split with
50 test sources per class), not from the reader under test."""

from __future__ import annotations

import collections
import importlib.metadata
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from astroxai.io import first
from astroxai.io.first import MissingDataError, archive_path, first_galaxies
from astroxai.models import Split, labelled_split

PUBLISHED = {"FRI": 495, "FRII": 924, "compact": 391, "bent": 348}


@pytest.fixture(scope="module")
def galaxies():
    return first_galaxies()


def _listing():
    with zipfile.ZipFile(archive_path()) as archive:
        return [n.split("/") for n in archive.namelist() if n.endswith(".png")]


def test_the_whole_data_set_is_read_and_every_cutout_has_a_fate(galaxies):
    data, fates = galaxies
    listing = [p for p in _listing() if p[1] in ("train", "valid", "test")]
    assert len(fates) == len(listing) == sum(PUBLISHED.values())
    assert len({row["input"] for row in fates}) == len(fates)
    kept = [row for row in fates if row["status"] == "kept"]
    rejected = [row for row in fates if row["status"] == "rejected"]
    assert len(kept) == len(data) and sorted(data.ids) == sorted(row["id"] for row in kept)
    # one cutout of the archive is blank inside the central 128 px: rejected with the reason, not lost
    assert all("noise threshold" in row["reason"] for row in rejected) and len(rejected) <= 2
    for row in rejected:
        with zipfile.ZipFile(archive_path()) as archive:
            cut = np.asarray(Image.open(io.BytesIO(archive.read(row["input"]))))[86:214, 86:214]
        assert cut.max() == cut.min()
    counts = collections.Counter(data.labels)
    rejected_by_class = collections.Counter(first.CLASSES[row["input"].split("/")[2]] for row in rejected)
    assert {c: counts[c] + rejected_by_class[c] for c in PUBLISHED} == PUBLISHED


def test_literature_split_and_metadata(galaxies):
    data, _ = galaxies
    parts = collections.Counter(data.meta["split"])
    assert parts["test"] == 200 and parts["train"] == 1758 and parts["validation"] >= 198
    test = data.labels[data.meta["split"] == "test"]
    assert collections.Counter(test) == dict.fromkeys(PUBLISHED, 50)
    for j in range(0, len(data), 97):  # RA, Dec and catalogue parsed from RA_DEC_LABEL_CATALOGUE.png
        ra, dec, _, catalogue = data.ids[j].split("_", 3)
        assert data.meta["ra"][j] == float(ra) and data.meta["dec"][j] == float(dec)
        assert data.meta["catalogue"][j] == catalogue and data.meta["file"][j].endswith(data.ids[j] + ".png")
    assert set(data.meta["catalogue"]) >= {"Gendre", "MiraBest", "Baldi2018", "Proctor_Tab1"}
    assert data.attrs["pixel_arcsec"] == pytest.approx(3.6) and data.shape == (1, 64, 64)


def test_pixels_are_the_central_crop_binned_as_pillow_reduces_it(galaxies):
    data, _ = galaxies
    with zipfile.ZipFile(archive_path()) as archive:
        for j in (0, 700, 1500, len(data) - 1):
            grey = Image.open(io.BytesIO(archive.read(data.meta["file"][j]))).crop((86, 86, 214, 214))
            reference = np.asarray(grey.convert("F").reduce(2), dtype=np.float64)
            assert np.allclose(data.images[j, 0], reference - reference.min(), atol=1e-3)


def test_source_masks(galaxies):
    data, _ = galaxies
    source, brightest = data.masks["source"], data.masks["brightest"]
    assert source.any(axis=(1, 2)).all() and (brightest <= source).all() and brightest.any(axis=(1, 2)).all()
    for j in range(0, len(data), 50):
        image = data.images[j, 0]
        assert brightest[j].flat[np.argmax(image)]  # the brightest pixel lies in the brightest part
        assert not (image[~source[j]] > 0).any()  # nothing above the threshold outside the source


def test_literature_split_is_kept_by_every_estimator(galaxies):
    data, _ = galaxies
    split = labelled_split(data, seed=5)
    assert split.origin.startswith("literature") and not split.stratified
    for part in ("train", "validation", "test"):
        assert set(split.part(part)) == set(data.ids[data.meta["split"] == part])
    assert labelled_split(data, seed=6).to_dict() == {**split.to_dict(), "seed": 6}  # not drawn: seeds change nothing
    again = Split.from_dict(split.to_dict())
    assert again.origin == split.origin
    legacy = {k: v for k, v in split.to_dict().items() if k != "origin"}  # split.json written before origins
    assert Split.from_dict(legacy).origin == "paper"


def test_unknown_split_values_are_refused(galaxies):
    data, _ = galaxies
    odd = data.subset(np.arange(8))
    odd.meta["split"] = np.array(["train"] * 7 + ["holdout"], dtype=object)
    with pytest.raises(ValueError, match="holdout"):
        labelled_split(odd, seed=0)


def test_missing_package_names_the_install_command(monkeypatch):
    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(MissingDataError, match="pip install --no-deps firstgalaxydata==0.2.1"):
        first_galaxies()


def test_bad_crop_settings_are_refused():
    with pytest.raises(ValueError, match="crop"):
        first_galaxies(crop=127)
    with pytest.raises(ValueError, match="parts"):
        first_galaxies(parts=("holdout",))


def test_a_broken_archive_member_costs_its_own_row(tmp_path, monkeypatch):
    """A copy of the archive with a corrupt PNG, a PNG of the wrong size and a misnamed file beside two good
    cutouts: the good ones are read, each broken one is a rejected row naming its problem."""
    with zipfile.ZipFile(archive_path()) as archive:
        good = [n for n in archive.namelist() if n.startswith("galaxy_data/test/FRII/") and n.endswith(".png")][:2]
        pngs = {name: archive.read(name) for name in good}
    small = io.BytesIO()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(small, format="PNG")
    broken = {"galaxy_data/test/FRI/10.0_20.0_0_Gendre.png": b"\x89PNG\r\n\x1a\n not really",
              "galaxy_data/test/FRI/11.0_21.0_0_Gendre.png": small.getvalue(),
              "galaxy_data/test/FRI/no_position.png": pngs[good[0]]}
    path = tmp_path / "galaxy_data.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in {**pngs, **broken}.items():
            archive.writestr(name, content)
    monkeypatch.setattr(first, "archive_path", lambda: path)
    data, fates = first_galaxies(parts=("test",))
    assert sorted(data.ids) == sorted(n.rsplit("/", 1)[-1][:-4] for n in good)
    reasons = {row["input"].rsplit("/", 1)[-1]: row["reason"] for row in fates if row["status"] == "rejected"}
    assert "unreadable cutout" in reasons["10.0_20.0_0_Gendre.png"]
    assert "40 × 40 pixels, not 300 × 300" in reasons["11.0_21.0_0_Gendre.png"]
    assert "RA_DEC_LABEL_CATALOGUE" in reasons["no_position.png"]
    assert len(fates) == 5


def test_the_literature_table_in_the_docs_is_the_one_the_run_writes():
    """docs/images.md lists every published score of ``PEERS`` (paper, model, metric, value) and says which are
    comparable; a peer added to the code and not to the documentation (or the reverse) fails here."""
    from pathlib import Path

    from astroxai.io.first import PEERS

    text = (Path(__file__).parents[2] / "docs" / "images.md").read_text()
    table = [line.split(" | ") for line in text.splitlines()
             if line.startswith("| ") and ("their own" in line or "5 folds;" in line)]
    assert len(table) == len(PEERS)
    for row, peer in zip(table, PEERS, strict=True):
        assert row[0].lstrip("| ").split(" (")[0] == peer.paper.split(" (")[0]
        assert row[1] == peer.model and row[4] == peer.metric
        assert float(row[5].split(" ± ")[0]) == peer.value
        assert (row[6].startswith("no")) == peer.comparable.startswith("no")
        if peer.spread is not None:
            assert float(row[5].split(" ± ")[1]) == peer.spread
