"""Loading photos of every kind upright as RGB, refusing bad ones, exporting safely."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio.core.errors import ImageError
from fader_studio.core.imageio import load_image, save_image

# A 30×20 image, not symmetric, so a wrong rotation or flip shows.
ARROW = np.zeros((20, 30, 3), np.uint8)
ARROW[:, :, 0] = np.arange(30)[None, :] * 8  # red grows to the right
ARROW[:, :, 1] = np.arange(20)[:, None] * 12  # green grows downwards


def save(image: Image.Image, path: Path, fmt: str | None = None, **options: object) -> Path:
    image.save(path, fmt, **options)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tiff", ".bmp"])
def test_every_format_loads_as_rgb(tmp_path: Path, suffix: str) -> None:
    quality = {"quality": 100} if suffix in (".jpg", ".webp") else {}
    photo = load_image(save(Image.fromarray(ARROW), tmp_path / f"arrow{suffix}", **quality))
    assert photo.pixels.shape == (20, 30, 3) and photo.pixels.dtype == np.uint8
    assert np.abs(photo.pixels.astype(int) - ARROW).mean() < 4
    assert photo.size == (30, 20) and photo.alpha is None


@pytest.mark.parametrize(("orientation", "turn"), [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, turn: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(Image.fromarray(ARROW), tmp_path / "phone.jpg", quality=100, exif=exif)
    photo = load_image(path)
    expected = np.rot90(ARROW, turn)
    assert photo.pixels.shape == expected.shape
    assert np.abs(photo.pixels.astype(int) - expected).mean() < 4
    assert Image.open(io.BytesIO(_saved(photo))).getexif().get(0x0112, 1) == 1  # not rotated twice


def _saved(photo) -> bytes:  # noqa: ANN001
    out = io.BytesIO()
    Image.fromarray(photo.pixels).save(out, "JPEG", exif=photo.exif or b"")
    return out.getvalue()


def test_grayscale_16_bit_palette_and_cmyk_convert_correctly(tmp_path: Path) -> None:
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(load_image(save(Image.fromarray(gray), tmp_path / "g.png")).pixels[:, :, 1], gray)
    deep = (gray.astype(np.uint16) * 257).astype(np.uint16)
    photo16 = load_image(save(Image.fromarray(deep), tmp_path / "g16.png"))
    assert np.array_equal(photo16.pixels[:, :, 0], gray)
    palette = Image.fromarray(ARROW).quantize(16)
    assert np.abs(load_image(save(palette, tmp_path / "p.png")).pixels.astype(int) - ARROW).mean() < 12
    cmyk = Image.fromarray(ARROW).convert("CMYK")
    assert (
        np.abs(load_image(save(cmyk, tmp_path / "c.jpg", quality=100)).pixels.astype(int) - ARROW).mean() < 6
    )


def test_alpha_is_kept_aside_and_exported_again(tmp_path: Path) -> None:
    rgba = np.dstack([ARROW, np.full((20, 30), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    photo = load_image(save(Image.fromarray(rgba), tmp_path / "a.png"))
    assert np.array_equal(photo.pixels, ARROW) and np.array_equal(photo.alpha, rgba[:, :, 3])
    out = save_image(photo.pixels, tmp_path / "out.png", source=photo)
    assert np.array_equal(np.asarray(Image.open(out)), rgba)
    opaque = load_image(
        save(Image.fromarray(np.dstack([ARROW, np.full((20, 30), 255, np.uint8)])), tmp_path / "o.png")
    )
    assert opaque.alpha is None


def test_a_path_with_non_ascii_characters(tmp_path: Path) -> None:
    folder = tmp_path / "Фото 写真 ü"
    folder.mkdir()
    photo = load_image(save(Image.fromarray(ARROW), folder / "été.png"))
    assert np.array_equal(photo.pixels, ARROW)
    assert save_image(photo.pixels, folder / "édité.png").exists()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` but holds only a few bytes of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(12_000, 10_000), (30_000, 30_000)])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, width: int, height: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(width, height))
    with pytest.raises(ImageError) as error:
        load_image(path)
    message = str(error.value)
    assert "megapixels" in message and "truncated" not in message  # refused before any decoding
    assert message.startswith(f"{path}: ")


def test_the_pixel_limit_is_a_setting(tmp_path: Path) -> None:
    path = save(Image.fromarray(ARROW), tmp_path / "a.png")
    with pytest.raises(ImageError, match=r"30×20 is 600 pixels; the limit is 500 \(0.0005 megapixels\)"):
        load_image(path, max_pixels=500)
    just_over = tmp_path / "just-over.png"
    just_over.write_bytes(png_header_only(10_001, 10_000))
    with pytest.raises(
        ImageError, match=r"10001×10000 is 100,010,000 pixels; the limit is 100,000,000 \(100 "
    ):
        load_image(just_over)  # it said "100 megapixels; the limit is 100"
    assert load_image(path, max_pixels=600).size == (30, 20)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing.jpg", "no such file"),
        (lambda p: p, "is a folder, not a file"),
        (lambda p: _write(p / "notes.jpg", b"just some text"), "not an image file Fader Studio can read"),
        (lambda p: _write(p / "cut.jpg", _jpeg()[:600]), "cannot read this image"),
        (lambda p: _write(p / "cut.png", png_header_only(40, 40)), "cannot read this image"),
    ],
    ids=["missing", "folder", "text", "truncated-jpeg", "truncated-png"],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, make, reason: str) -> None:  # noqa: ANN001
    with pytest.raises(ImageError, match=reason) as error:
        load_image(make(tmp_path))
    assert "\n" not in str(error.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def test_export_keeps_exif_and_icc_and_refuses_the_original(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    icc = b"\0\0\0\x10fake icc profile"
    path = save(Image.fromarray(ARROW), tmp_path / "in.jpg", quality=95, exif=exif, icc_profile=icc)
    photo = load_image(path)
    before = path.read_bytes()
    with pytest.raises(ImageError, match="refusing to overwrite the original photo"):
        save_image(photo.pixels, path, source=photo)
    with pytest.raises(ImageError, match="refusing to overwrite the original photo"):
        save_image(photo.pixels, tmp_path / "." / "in.jpg", source=photo)
    assert path.read_bytes() == before
    out = save_image(photo.pixels, tmp_path / "out.jpg", source=photo)
    with Image.open(out) as saved:
        assert saved.getexif()[0x010F] == "Camera Maker"
        assert saved.info["icc_profile"] == icc


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot write"):
        save_image(ARROW, tmp_path / "no such folder" / "out.png")
    with pytest.raises(ImageError, match=r"cannot save as \.gif"):
        save_image(ARROW, tmp_path / "out.gif")
    assert list(tmp_path.iterdir()) == []


def test_exports_respect_the_umask_and_keep_the_mode_of_a_file_they_replace(tmp_path: Path) -> None:
    import os
    import stat

    pixels = np.full((8, 8, 3), 90, np.uint8)
    previous = os.umask(0o077)  # a private photo
    try:
        fresh = save_image(pixels, tmp_path / "private.png")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    shared = tmp_path / "shared.png"
    shared.write_bytes(b"old")
    shared.chmod(0o640)
    save_image(pixels, shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640 and shared.read_bytes() != b"old"


def big_exif_photo(path: Path) -> Path:
    """A PNG with 70 kB of EXIF (a long maker note), more than a JPEG can hold."""
    exif = Image.Exif()
    exif[0x927C] = b"\x01" * 70_000  # MakerNote
    exif[0x010F] = "Camera maker"
    Image.new("RGB", (16, 16), (10, 120, 200)).save(path, exif=exif.tobytes())
    return path


def test_exif_too_large_for_a_jpeg_is_left_out_with_a_warning_and_kept_where_it_fits(tmp_path: Path) -> None:
    from fader_studio.core.imageio import ExportWarning

    photo = load_image(big_exif_photo(tmp_path / "big.png"))
    assert photo.exif is not None and len(photo.exif) > 70_000
    with pytest.warns(ExportWarning, match="the photo's EXIF \\(68 kB\\) is more than a JPEG can hold"):
        jpeg = save_image(photo.pixels, tmp_path / "out.jpg", source=photo)
    with Image.open(jpeg) as image:
        assert image.size == (16, 16) and not image.getexif()
    png = save_image(photo.pixels, tmp_path / "out.png", source=photo)
    with Image.open(png) as image:
        assert image.getexif()[0x010F] == "Camera maker"


def gray_profile(gamma: float) -> bytes:
    """A minimal ICC v2 gray display profile with a pure gamma curve (no profile files are needed)."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    white = s15(0.9642) + s15(1.0) + s15(0.8249)  # D50
    text = b"test gray\0"
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)),
        (b"wtpt", b"XYZ " + bytes(4) + white),
        (b"kTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))),
        (b"cprt", b"text" + bytes(4) + b"public domain\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = struct.pack(">I", offset + len(body)) + bytes(4) + struct.pack(">I", 0x02100000)
    header += b"mntrGRAYXYZ " + bytes(12) + b"acsp" + bytes(28) + white + bytes(48)
    return header + struct.pack(">I", len(tags)) + table + body


def profile_space(icc: bytes | None) -> str | None:
    from PIL import ImageCms

    return None if icc is None else ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()


def test_gray_pixels_go_through_their_profile_and_the_export_is_tagged_with_what_its_pixels_are(
    tmp_path: Path,
) -> None:
    linear = tmp_path / "linear-gray.png"
    Image.new("L", (6, 4), 128).save(linear, icc_profile=gray_profile(1.0))
    photo = load_image(linear)
    assert photo.pixels[0, 0].tolist() == [188, 188, 188]  # linear mid-gray is sRGB 188, not 128
    assert profile_space(photo.icc_profile) == "RGB"
    for suffix in (".png", ".jpg", ".tif", ".webp"):
        out = save_image(photo.pixels, tmp_path / f"out{suffix}", source=photo)
        with Image.open(out) as image:
            assert image.mode == "RGB" and profile_space(image.info.get("icc_profile")) == "RGB", suffix
    assert load_image(tmp_path / "out.png").pixels[0, 0].tolist() == [188, 188, 188]  # a stable round trip


def test_a_profile_of_another_colour_space_than_the_pixels_is_dropped_not_passed_on(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (6, 4), (0, 128, 255, 0)).save(path, icc_profile=gray_profile(2.2))
    photo = load_image(path)
    assert photo.icc_profile is None
    with Image.open(save_image(photo.pixels, tmp_path / "out.jpg", source=photo)) as image:
        assert "icc_profile" not in image.info
