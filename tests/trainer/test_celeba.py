"""Reading CelebA-format datasets: layouts, text files, partitions, template, bad input."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio.core.attributes import CELEBA_ATTRIBUTES
from fader_studio.core.errors import DatasetError
from fader_studio.core.template import default_template, to_crop
from tests.trainer.conftest import LAYOUTS, WrittenCelebA, jpeg_bytes, write_celeba
from trainer.celeba import BadImage, DatasetWarning, FolderImages, ZipImages, open_celeba, preprocess_image


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_reads_the_same_dataset(tmp_path: Path, layout: str) -> None:
    written = write_celeba(tmp_path / layout, 15, layout=layout)
    celeba = open_celeba(written.path)
    assert celeba.attribute_names == list(CELEBA_ATTRIBUTES)
    assert celeba.names == written.names
    np.testing.assert_array_equal(celeba.labels, written.labels)
    np.testing.assert_array_equal(celeba.partition, written.partition)
    np.testing.assert_array_equal(celeba.landmarks, written.landmarks)
    assert celeba.split_counts() == {"train": 9, "val": 3, "test": 3}
    for name in written.names[:3]:
        assert celeba.layout.images.read(name) == written.images[name]


def test_the_zip_itself_can_be_given_and_is_read_in_place(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "z", 6, layout="zip")
    zip_path = tmp_path / "z" / "img_align_celeba.zip"
    celeba = open_celeba(zip_path)
    assert isinstance(celeba.layout.images, ZipImages)
    assert celeba.names == written.names
    assert not (tmp_path / "z" / "img_align_celeba").exists()  # nothing extracted


def test_preprocessing_crops_rows_20_to_198_and_resizes() -> None:
    pixels = np.zeros((218, 178, 3), np.uint8)
    pixels[20:198] = 200  # the crop is one flat colour; outside it black
    image = preprocess_image(_png(pixels), 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert np.all(image == 200)
    stripe = pixels.copy()
    stripe[20:30] = 0  # the top tenth of the crop
    top = preprocess_image(_png(stripe), 128, "area")
    assert top[:5].max() == 0 and top[10:].min() == 200


def test_square_and_scaled_images_use_the_same_crop() -> None:
    smooth = np.asarray(
        Image.fromarray(np.uint8(np.random.default_rng(0).uniform(0, 255, (7, 6, 3)))).resize((178, 218))
    )
    crop = smooth[20:198]
    whole = preprocess_image(_png(np.ascontiguousarray(crop)), 64)
    assert np.array_equal(whole, preprocess_image(_png(smooth), 64))
    double = np.asarray(Image.fromarray(smooth).resize((356, 436), Image.Resampling.NEAREST))
    doubled, single = (
        preprocess_image(_png(double), 64, "lanczos"),
        preprocess_image(_png(smooth), 64, "lanczos"),
    )
    assert np.abs(doubled.astype(int) - single).max() <= 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not an image at all", "unreadable image"),
        (jpeg_bytes(np.zeros((218, 178, 3), np.uint8))[:400], "unreadable image"),
        (jpeg_bytes(np.zeros((100, 178, 3), np.uint8)), "not an aligned face image (178×100"),
    ],
    ids=["garbage", "truncated-jpeg", "wrong-shape"],
)
def test_bad_images_raise_bad_image(data: bytes, reason: str) -> None:
    with pytest.raises(BadImage, match=reason.replace("(", r"\(")):
        preprocess_image(data, 64)


def test_a_huge_image_is_refused_before_decoding() -> None:
    header = io.BytesIO()
    Image.new("L", (8192, 8192)).save(header, "PNG")  # small file, 67 megapixels
    with pytest.raises(BadImage, match="too large"):
        preprocess_image(header.getvalue(), 64)


def test_template_is_the_mean_landmarks_in_crop_coordinates(celeba: WrittenCelebA) -> None:
    data = open_celeba(celeba.path)
    expected = to_crop(celeba.landmarks.mean(axis=0).tolist(), (0, 20, 178, 198), 128)
    np.testing.assert_allclose(data.template(128), expected, atol=1e-4)


def test_without_landmarks_the_template_is_celebas_mean(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "d", 5, landmarks=False)
    data = open_celeba(written.path)
    assert data.landmarks is None
    np.testing.assert_allclose(data.template(64), default_template(64))


def test_missing_partition_file_falls_back_to_the_standard_split(tmp_path: Path) -> None:
    numbers = [1, 162770, 162771, 182637, 182638, 202599]
    written = write_celeba(tmp_path / "d", numbers=numbers, partition=False)
    with pytest.warns(DatasetWarning, match="no list_eval_partition.txt: using CelebA's standard split"):
        data = open_celeba(written.path)
    assert data.partition.tolist() == [0, 0, 1, 1, 2, 2]


def test_missing_images_are_reported_once_and_skipped(celeba: WrittenCelebA) -> None:
    folder = celeba.root / "img_align_celeba"
    for name in celeba.names[:3]:
        (folder / name).unlink()
    with pytest.warns(DatasetWarning) as caught:
        data = open_celeba(celeba.path)
    assert len(caught) == 1
    assert str(caught[0].message).startswith("3 of the 24 images listed in list_attr_celeba.txt are not in")
    assert data.names == celeba.names[3:]
    np.testing.assert_array_equal(data.labels, celeba.labels[3:])


def test_an_image_saved_under_another_suffix_is_found(celeba: WrittenCelebA) -> None:
    folder = celeba.root / "img_align_celeba"
    (folder / celeba.names[0]).rename(folder / celeba.names[0].replace(".jpg", ".png"))
    data = open_celeba(celeba.path)
    assert data.names[0] == "000001.png" and len(data) == 24


def test_no_listed_image_present_is_an_error(celeba: WrittenCelebA) -> None:
    for path in (celeba.root / "img_align_celeba").iterdir():
        path.rename(path.with_name("x" + path.name))
    with pytest.raises(DatasetError, match="none of the 24 listed images is in"):
        open_celeba(celeba.path)


def test_the_fingerprint_changes_with_labels_and_images(celeba: WrittenCelebA) -> None:
    first = open_celeba(celeba.path).fingerprint
    assert open_celeba(celeba.path).fingerprint == first
    image = celeba.root / "img_align_celeba" / celeba.names[5]
    image.write_bytes(image.read_bytes() + b"\0")
    second = open_celeba(celeba.path).fingerprint
    attributes = celeba.text_file("list_attr_celeba.txt")
    attributes.write_text(attributes.read_text().replace(" 1", "-1", 1))
    assert len({first, second, open_celeba(celeba.path).fingerprint}) == 3


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("file", "line", "text", "reason"),
    [
        ("list_attr_celeba.txt", 1, "many", "expected the image count, got 'many'"),
        ("list_attr_celeba.txt", 2, "", "no attribute names"),
        ("list_attr_celeba.txt", 2, "Smiling Smiling", "an attribute name is repeated"),
        ("list_attr_celeba.txt", 7, "000005.jpg 1 -1", "expected a file name and 40 values"),
        (
            "list_attr_celeba.txt",
            9,
            "000007.jpg" + " 1" * 39 + " 2",
            "attribute values must be -1 or 1, got 2",
        ),
        ("list_attr_celeba.txt", 4, "000002.jpg" + " x" * 40, "not a number"),
        ("list_attr_celeba.txt", 5, "000001.jpg" + " 1" * 40, "000001.jpg is listed twice"),
        ("list_eval_partition.txt", 3, "000003.jpg 7", "partition must be 0, 1 or 2, got 7"),
        ("list_eval_partition.txt", 2, "000002.jpg", "expected a file name and 1 values"),
        ("list_landmarks_align_celeba.txt", 4, "000002.jpg 1 2 3", "expected a file name and 10 values"),
        (
            "list_landmarks_align_celeba.txt",
            5,
            "000003.jpg" + " nan" * 10,
            "landmarks must be finite numbers",
        ),
    ],
)
def test_a_malformed_text_file_names_the_file_and_line(
    celeba: WrittenCelebA, file: str, line: int, text: str, reason: str
) -> None:
    path = celeba.text_file(file)
    _replace_line(path, line, text)
    with pytest.raises(DatasetError) as error:
        open_celeba(celeba.path)
    assert str(error.value).startswith(f"{path}:{line}: {reason}")
    assert "\n" not in str(error.value)


def test_a_count_line_that_disagrees_is_a_warning(celeba: WrittenCelebA) -> None:
    _replace_line(celeba.text_file("list_attr_celeba.txt"), 1, "202599")
    with pytest.warns(DatasetWarning, match="says 202599 images but lists 24"):
        assert len(open_celeba(celeba.path)) == 24


def test_a_binary_attribute_file_is_refused(celeba: WrittenCelebA) -> None:
    celeba.text_file("list_attr_celeba.txt").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DatasetError, match="list_attr_celeba.txt: not a text file"):
        open_celeba(celeba.path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda root: root / "nowhere", "no such file or folder"),
        (lambda root: _touch(root / "notes.txt", b"hello"), "not a folder or a zip file of images"),
        (lambda root: _touch(root / "empty" / "list_attr_celeba.txt", b"1\nSmiling\n"), "no images found"),
        (lambda root: _images_only(root / "noattr"), "no list_attr_celeba.txt here or in Anno/"),
        (
            lambda root: _touch(root / "bad.zip", b"PK\x03\x04 broken zip"),
            "not a folder or a zip file of images",
        ),
    ],
    ids=["missing", "text-file", "no-images", "no-attributes", "broken-zip"],
)
def test_not_a_dataset(tmp_path: Path, make, reason: str) -> None:  # noqa: ANN001
    path = make(tmp_path)
    with pytest.raises(DatasetError, match=reason):
        open_celeba(path)


def test_a_zip_truncated_after_listing_gives_bad_images(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "z", 4, layout="zip")
    zip_path = tmp_path / "z" / "img_align_celeba.zip"
    celeba = open_celeba(written.path)
    with zipfile.ZipFile(zip_path) as archive:
        offset = archive.getinfo(f"img_align_celeba/{written.names[0]}").header_offset
    data = bytearray(zip_path.read_bytes())
    data[offset + 40 : offset + 300] = bytes(260)  # damage the first member's data
    zip_path.write_bytes(bytes(data))
    images = ZipImages(zip_path)
    images.list()
    with pytest.raises(BadImage):
        preprocess_image(images.read(written.names[0]), 64)
    assert celeba.names == written.names


def _touch(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.parent if path.name == "list_attr_celeba.txt" else path


def _images_only(folder: Path) -> Path:
    (folder / "img_align_celeba").mkdir(parents=True)
    (folder / "img_align_celeba" / "000001.jpg").write_bytes(jpeg_bytes(np.zeros((218, 178, 3), np.uint8)))
    return folder


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_auto_filter_shrinks_with_area_and_enlarges_with_lanczos(celeba: WrittenCelebA) -> None:
    data = celeba.images[celeba.names[0]]
    for size, meant, other in ((64, "area", "lanczos"), (128, "area", "lanczos"), (256, "lanczos", "area")):
        auto = preprocess_image(data, size)
        assert np.array_equal(auto, preprocess_image(data, size, meant))
        assert not np.array_equal(auto, preprocess_image(data, size, other))
    with pytest.raises(ValueError, match="resize must be one of auto, area, lanczos, not 'cubic'"):
        preprocess_image(data, 64, "cubic")


def test_an_image_folder_that_cannot_be_listed_is_a_clear_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "img_align_celeba"
    not_a_folder.write_text("a file where the image folder should be")
    with pytest.raises(
        DatasetError, match=r"img_align_celeba: cannot read the image folder \(Not a directory\)"
    ):
        FolderImages(not_a_folder).list()


def test_a_padded_zip_member_is_a_bad_image_and_never_inflated(tmp_path: Path) -> None:
    import tracemalloc

    written = write_celeba(tmp_path / "z", 4, layout="zip")
    archive = tmp_path / "z" / "img_align_celeba.zip"
    with zipfile.ZipFile(archive, "a") as zf, zf.open("img_align_celeba/000099.jpg", "w") as member:
        for _ in range(600):  # 600 MB of zeros: far more than any face image
            member.write(bytes(1 << 20))
    images = ZipImages(archive)
    assert "000099.jpg" in images.list()
    tracemalloc.start()
    try:
        with pytest.raises(BadImage, match="would inflate to 600 MB, more than it can hold"):
            images.read("000099.jpg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert images.read(written.names[0]) == written.images[written.names[0]]


@pytest.mark.parametrize(
    "name", ["list_attr_celeba.txt", "list_eval_partition.txt", "list_landmarks_align_celeba.txt"]
)
def test_a_byte_order_mark_from_a_windows_editor_is_accepted(tmp_path: Path, name: str) -> None:
    written = write_celeba(tmp_path / "d", 6)
    text = written.text_file(name)
    if name == "list_eval_partition.txt":  # image 1 in the test split, which no default would give it
        text.write_text(text.read_text().replace("000001.jpg 0", "000001.jpg 2"))
        written.partition[0] = 2
    text.write_bytes(b"\xef\xbb\xbf" + text.read_bytes())
    celeba = open_celeba(written.path)
    assert celeba.names == written.names
    np.testing.assert_array_equal(celeba.labels, written.labels)
    np.testing.assert_array_equal(celeba.partition, written.partition)
    np.testing.assert_array_equal(celeba.landmarks, written.landmarks)
