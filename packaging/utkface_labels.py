"""Write a Fader Studio photo folder for UTKFace: ``labels.csv`` and a link to the photos.

    python packaging/utkface_labels.py UTKFACE OUT

``UTKFACE`` is a folder of UTKFace's "Aligned&Cropped" photos (named
``AGE_GENDER_RACE_DATETIME.jpg.chip.jpg``) or a folder holding ``images/`` and
``labels.csv`` with ``file,age,gender,race`` columns. ``OUT`` gets
``labels.csv`` with ``file,Male,Young,age`` rows (Male from UTKFace's gender,
Young from the age: 1 up to :data:`YOUNG_UP_TO`, 0 from :data:`OLD_FROM`, blank
in between, where CelebA's own Young labels are split) and ``images``, a link to
the photos. Train on it with ``fader-train train OUT … --template tight``.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

#: Ages labelled Young = 1 and Young = 0; the ages between are left unknown.
YOUNG_UP_TO, OLD_FROM = 30, 40


def young(age: int) -> str:
    """UTKFace's age as CelebA's Young label: "1", "0", or "" (unknown) near the boundary."""
    return "1" if age <= YOUNG_UP_TO else "0" if age >= OLD_FROM else ""


def read_utkface(folder: Path) -> tuple[Path, list[tuple[str, int, str]]]:
    """The photo folder and its (file, age, gender) rows, from labels.csv or the file names."""
    if (folder / "labels.csv").is_file():
        images = folder / "images"
        with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
            return images, [(r["file"], int(r["age"]), r["gender"]) for r in csv.DictReader(f)]
    rows = []
    for path in sorted(folder.glob("*.jpg")):
        parts = path.name.split("_")
        if len(parts) >= 3 and parts[0].isdigit() and parts[1] in ("0", "1"):
            rows.append((path.name, int(parts[0]), "male" if parts[1] == "0" else "female"))
    return folder, rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    source, out = Path(argv[0]), Path(argv[1])
    images, rows = read_utkface(source)
    if not rows:
        print(f"no UTKFace photos in {source}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    link = out / "images"
    if not link.exists():
        os.symlink(images.resolve(), link, target_is_directory=True)
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "Male", "Young", "age"])
        for name, age, gender in rows:
            writer.writerow([name, "1" if gender == "male" else "0", young(age), age])
    print(f"{len(rows)} photos labelled in {out / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
