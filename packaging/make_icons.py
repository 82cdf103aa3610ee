"""Draw the application icon: three faders on a rounded square. Writes PNGs, .ico and .icns.

python packaging/make_icons.py   # into resources/icons/
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from fader_studio.resources import ICON_SIZES

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"

BIG = 1024


def draw() -> Image.Image:
    """The icon at 1024×1024, RGBA."""
    image = Image.new("RGBA", (BIG, BIG))
    top, bottom = (58, 76, 200), (142, 68, 173)
    gradient = Image.new("RGBA", (1, BIG))
    for y in range(BIG):
        t = y / (BIG - 1)
        gradient.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)) + (255,)
        )
    mask = Image.new("L", (BIG, BIG))
    ImageDraw.Draw(mask).rounded_rectangle((40, 40, BIG - 40, BIG - 40), radius=200, fill=255)
    image.paste(gradient.resize((BIG, BIG)), mask=mask)
    pen = ImageDraw.Draw(image)
    for x, knob in ((300, 620), (512, 360), (724, 520)):  # three faders at different settings
        pen.rounded_rectangle((x - 22, 210, x + 22, 814), radius=22, fill=(255, 255, 255, 110))
        pen.rounded_rectangle((x - 95, knob - 50, x + 95, knob + 50), radius=30, fill=(255, 255, 255, 255))
        pen.rectangle((x - 60, knob - 6, x + 60, knob + 6), fill=top + (255,))
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon = draw()
    for size in ICON_SIZES:
        icon.resize((size, size), Image.Resampling.LANCZOS).save(OUT / f"fader-studio-{size}.png")
    icon.save(OUT / "fader-studio.ico", sizes=[(s, s) for s in ICON_SIZES if s <= 256])
    icon.save(OUT / "fader-studio.icns")


if __name__ == "__main__":
    main()
