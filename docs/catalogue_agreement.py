"""How often the literature catalogues behind the real FIRST labels agree with one another (docs/images.md,
"the catalogues disagree").

Usage:  python docs/catalogue_agreement.py DIFFERENT_LABELS.csv REMOVED.csv

Griese et al. (2023) merged six catalogues into the FIRST data set that ``firstgalaxydata`` ships, and kept two
records of the sources that more than one catalogue had classified, in their data set's repository
(github.com/floriangriese/RadioGalaxyDataset, ``meta/galaxy_data_different_labels.csv`` and
``meta/galaxy_data_removed.csv``; not in the installed wheel, so this script takes their paths and downloads
nothing):

* ``galaxy_data_different_labels.csv``: consecutive rows are the two entries of one source that two catalogues (or
  two entries of one catalogue) labelled differently; those sources were left out of the data set.
* ``galaxy_data_removed.csv``: every entry left out, disputed or duplicate.  A removed entry whose source is still
  in the installed set (matched here within 60″) is a duplicate whose label the kept copy shares.

Prints the disputed pairs by pair of labels and catalogues, and per pair of catalogues how many doubly classified
sources they agreed and disagreed on (a source with three entries counts as two pairs).
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter

import astropy.units as u
from astropy.coordinates import SkyCoord

from astroxai.io.first import first_galaxies

#: The records' label codes (as in the data set's file names) → astroxai's radio classes.
CODES = {0: "FRI", 1: "FRII", 2: "compact", 3: "bent"}
MATCH_ARCSEC = 60.0


def _rows(path: str) -> list[dict]:
    """(ra, dec, label, catalogue) of every entry of one of the records."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [{"ra": float(r[0]), "dec": float(r[1]), "label": CODES[int(float(r[2]))], "catalogue": r[3]}
                for r in reader if r]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("different_labels", help="meta/galaxy_data_different_labels.csv of the data set")
    parser.add_argument("removed", help="meta/galaxy_data_removed.csv of the data set")
    args = parser.parse_args(argv)

    disputed = _rows(args.different_labels)
    if len(disputed) % 2:
        parser.error(f"{args.different_labels}: {len(disputed)} entries, not pairs")
    entries = list(zip(disputed[0::2], disputed[1::2], strict=True))
    pairs = [tuple(sorted((f"{a['label']} ({a['catalogue']})", f"{b['label']} ({b['catalogue']})")))
             for a, b in entries]
    print(f"disputed pairs of entries (one source, two labels): {len(pairs)}")
    for (first, second), n in Counter(pairs).most_common():
        print(f"  {n:3d}  {first}  vs  {second}")

    data, _ = first_galaxies()
    kept = SkyCoord(data.meta["ra"].astype(float) * u.deg, data.meta["dec"].astype(float) * u.deg)
    removed = _rows(args.removed)
    where = SkyCoord([r["ra"] for r in removed] * u.deg, [r["dec"] for r in removed] * u.deg)
    index, separation, _ = where.match_to_catalog_sky(kept)
    agree, disagree_kept = Counter(), 0
    for row, i, sep in zip(removed, index, separation.arcsec, strict=True):
        if sep > MATCH_ARCSEC:
            continue                       # a disputed source: both entries were left out
        if row["label"] == data.labels[i]:
            agree[tuple(sorted((row["catalogue"], str(data.meta["catalogue"][i]))))] += 1
        else:
            disagree_kept += 1
    disagree = Counter(tuple(sorted((a["catalogue"], b["catalogue"]))) for a, b in entries)
    print(f"\nduplicates kept once (same label): {sum(agree.values())}; removed entries whose kept twin has "
          f"another label: {disagree_kept}")
    total_agree, total_disagree = sum(agree.values()), sum(disagree.values())
    print(f"pairs of entries of one source: {total_agree + total_disagree}, labels differ in {total_disagree} "
          f"({total_disagree / (total_agree + total_disagree):.0%})")
    print("\ncatalogues                      agree  disagree")
    for key in sorted(set(agree) | set(disagree), key=lambda k: -(agree[k] + disagree[k])):
        print(f"  {' / '.join(key):30s} {agree[key]:5d}  {disagree[key]:8d}")
    same = sum(n for counts in (agree, disagree) for k, n in counts.items() if k[0] == k[1])
    print(f"(of which {same} are two entries of one catalogue)")


if __name__ == "__main__":
    main()
