"""Photos in and out: load upright as RGB uint8, export atomically with their metadata.

``load_image`` reads JPEG, PNG, WebP, TIFF, BMP (anything Pillow reads),
applies the EXIF orientation, converts grayscale, 16-bit, palette, CMYK and
alpha images to 8-bit RGB (alpha kept aside for export), and refuses images
over a pixel limit before decoding them, so a decompression bomb costs
nothing. ``save_image`` writes an edit next to nothing: atomically, keeping
the source's EXIF and ICC profile, and never over the photo it came from.
Every failure is an :class:`ImageError` with the file and the reason.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_write_bytes
from .errors import ImageError
from .files import file_problem
from .template import CROP_SIZE, crop_box

if TYPE_CHECKING:
    from PIL import ImageCms

#: Photos with more pixels than this are refused before decoding (a setting in the app).
DEFAULT_MAX_PIXELS = 100_000_000
#: Suffix → Pillow format for export.
EXPORT_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
#: The most EXIF a JPEG can hold: one APP1 segment of 64 kB, less its length field.
JPEG_MAX_EXIF = 65533


class ExportWarning(UserWarning):
    """Something of the photo could not be kept in the exported file (which was written without it)."""


#: Formats that can store an alpha channel.
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
JPEG_QUALITY = 95

#: Resampling filters of the paper's crop: a box (area) filter and Lanczos. "auto" shrinks with
#: the first and enlarges with the second, as the official preprocessing does.
RESAMPLING = {"area": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
RESIZE_CHOICES = ("auto", *RESAMPLING)


@dataclass
class Photo:
    """A photo as the editor sees it: upright 8-bit RGB, plus what export must keep."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, upright
    alpha: np.ndarray | None = None  # (H, W) uint8, or None when opaque
    path: Path | None = None
    format: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None  # with the orientation already applied (tag reset)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return self.pixels.shape[1], self.pixels.shape[0]


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """8-bit RGB pixels and the alpha channel (or None) of any Pillow image."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if mode == "F" and values.max(initial=0) <= 1.0:
            peak = 1.0
        gray = np.clip(np.round(values * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[:, :, 3].copy()
        return np.ascontiguousarray(rgba[:, :, :3]), None if alpha.min() == 255 else alpha
    return np.asarray(image.convert("RGB")), None


def _managed_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """``image`` and the profile its RGB pixels will be in.

    RGB pixels keep their profile. Gray and CMYK pixels with their own
    profile are converted through it to sRGB, and tagged sRGB (a gray or CMYK
    profile on RGB pixels makes colour-managed software refuse the file, and
    CMYK converted without its profile is off by about twice as much). A
    profile that cannot be used is dropped rather than put on pixels it does
    not describe.
    """
    if not icc or image.mode in ("RGB", "RGBA", "RGBX", "P", "PA"):
        return image, icc  # the pixels keep their values, so they keep their profile
    from PIL import ImageCms  # only gray and CMYK photos with a profile need colour management

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError, ValueError):
        return image, None
    if (space, image.mode) not in (("GRAY", "L"), ("GRAY", "LA"), ("CMYK", "CMYK")):
        return image, None  # a profile of another colour space than the pixels'
    alpha = image.getchannel("A") if image.mode == "LA" else None
    try:
        converted = ImageCms.profileToProfile(
            image.convert("L") if alpha is not None else image, source, _srgb(), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image, None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, _srgb().tobytes()


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    """The sRGB profile (made once, when a photo first needs it)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def resize_filter(resize: str, size: int) -> str:
    """The filter that ``resize`` means at ``size``: "auto" is "area" below 178 px, "lanczos" above."""
    if resize == "auto":
        return "area" if size < CROP_SIZE else "lanczos"
    if resize not in RESAMPLING:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_CHOICES)}, not {resize!r}")
    return resize


def paper_crop(image: Image.Image, size: int, resize: str = "auto") -> np.ndarray:
    """The paper's S×S crop of an aligned face image (rows 20:198 of 178×218), as uint8 RGB.

    Training data and already-aligned photos both go through this, so the
    model sees a CelebA photo exactly as it saw its training images. Raises
    ``ValueError`` for a shape that is not an aligned face image
    (:func:`fader_studio.core.template.crop_box`).
    """
    width, height = image.size
    box = crop_box(width, height)
    if box is None:
        raise ValueError(f"not an aligned face image ({width}×{height}; expected 178×218 or square)")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    crop = rgb.crop(tuple(round(v) for v in box))
    return np.asarray(crop.resize((size, size), RESAMPLING[resize_filter(resize, size)]))


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Load the photo at ``path`` upright as 8-bit RGB; :class:`ImageError` if it cannot be used."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ImageError(f"{path}: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{path}: {width}×{height} is {width * height:,} pixels; "
                        f"the limit is {max_pixels:,} ({max_pixels / 1e6:g} megapixels)"
                    )
                image.load()
                fmt = image.format
                icc = image.info.get("icc_profile")
                upright = ImageOps.exif_transpose(image)
                exif = upright.getexif()
                upright, icc = _managed_rgb(upright, icc)
                pixels, alpha = _to_rgb(upright)
    except ImageError:
        raise
    except FileNotFoundError:  # gone since file_problem looked
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Fader Studio can read") from None
    except Image.DecompressionBombError:
        raise ImageError(
            f"{path}: too many pixels (the limit is {max_pixels / 1e6:.0f} megapixels)"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageError(f"{path}: cannot read this image ({e})") from None
    return Photo(
        pixels=pixels,
        alpha=alpha,
        path=path,
        format=fmt,
        icc_profile=icc,
        exif=exif.tobytes() if len(exif) else None,
    )


def save_image(
    pixels: np.ndarray, path: str | Path, *, source: Photo | None = None, quality: int = JPEG_QUALITY
) -> Path:
    """Write ``pixels`` ((H, W, 3) uint8 RGB) to ``path`` atomically; the format follows the suffix.

    With ``source``, its EXIF (orientation already applied), ICC profile and
    alpha (where the format has one) are kept. Refuses to write over
    ``source``'s own file; a failed write leaves no file behind.
    """
    path = Path(path)
    fmt = export_format(path, source.path if source is not None else None)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("pixels must be an (H, W, 3) uint8 array")
    image = Image.fromarray(pixels)
    if source is not None and source.alpha is not None and fmt in ALPHA_FORMATS:
        image.putalpha(Image.fromarray(source.alpha))
    options: dict = {}
    if fmt == "JPEG":
        options = {"quality": quality, "subsampling": 0}
    elif fmt == "WEBP":
        options = {"quality": quality}
    if source is not None:
        if source.icc_profile and fmt != "BMP":
            options["icc_profile"] = source.icc_profile
        if source.exif and fmt == "JPEG" and len(source.exif) > JPEG_MAX_EXIF:
            warnings.warn(
                ExportWarning(
                    f"{path}: the photo's EXIF ({len(source.exif) / 1024:.0f} kB) is more than a JPEG can "
                    f"hold ({JPEG_MAX_EXIF / 1024:.0f} kB); written without it"
                ),
                stacklevel=2,
            )
        elif source.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
            options["exif"] = source.exif
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt, **options)
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: cannot encode as {fmt} ({e})") from None
    atomic_write_bytes(path, buffer.getvalue(), lambda reason: ImageError(f"{path}: {reason}"))
    return path


def export_format(path: Path, source: Path | None = None) -> str:
    """The Pillow format for ``path``; :class:`ImageError` if its suffix is unknown or it is ``source``."""
    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(
            f"{path}: cannot save as {path.suffix or 'a file without a suffix'} "
            f"(use {', '.join(sorted(set(EXPORT_FORMATS)))})"
        )
    if source is not None and _same_file(source, path):
        raise ImageError(f"{path}: refusing to overwrite the original photo; choose another name")
    return fmt


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()
