"""Write a photo folder of a CelebA sample's official labels only, split as a labelled copy of it.

    python packaging/official_labels.py SAMPLE LABELLED OUT

``SAMPLE`` is a CelebA-format folder whose ``list_attr_celeba.txt`` holds the
official labels of some images (``shared/celeba-sample``); ``LABELLED`` is
what ``fader-train label SAMPLE LABELLED`` wrote (its ``list_eval_partition.txt``
splits the people). ``OUT`` gets ``labels.csv`` (``file,split,Male,Smiling,Young``
for every officially labelled image, in its person's split) and ``images``, a
link to the sample's images. An independent judge is trained on it (real labels
of training people only): ``fader-train classifier OUT … --template tight``.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from trainer.celeba import SPLITS, find_layout, parse_attributes, parse_partition

ATTRIBUTES = ("Male", "Smiling", "Young")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    sample, labelled, out = (Path(a) for a in argv)
    layout = find_layout(sample)
    names, files, labels = parse_attributes(layout.attributes)
    split = parse_partition(labelled / "list_eval_partition.txt")
    code_name = {code: name for name, code in SPLITS.items()}
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "images").exists():
        os.symlink(Path(str(layout.images)).resolve(), out / "images", target_is_directory=True)
    columns = [names.index(a) for a in ATTRIBUTES]
    written = 0
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "split", *ATTRIBUTES])
        for name, row in zip(files, labels, strict=True):
            if name in split:
                writer.writerow([name, code_name[split[name]], *(int(row[c]) for c in columns)])
                written += 1
    print(f"{written} officially labelled images written to {out / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
