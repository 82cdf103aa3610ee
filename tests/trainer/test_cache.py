"""The preprocessed cache: exact pixels, reuse, resume, unusable images, damage, full disks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fader_studio.core.errors import DatasetError
from tests.trainer.conftest import WrittenCelebA, write_celeba
from trainer.cache import DONE, TODO, cache_folder, open_cache, prepare
from trainer.celeba import CelebA, DatasetWarning, open_celeba, preprocess_image


def expected_pixels(written: WrittenCelebA, size: int, resize: str = "auto") -> np.ndarray:
    return np.stack([preprocess_image(written.images[n], size, resize) for n in written.names])


@pytest.mark.parametrize(
    ("workers", "size", "resize"), [(1, 64, "lanczos"), (2, 128, "auto"), (1, 256, "auto")]
)
def test_the_cache_holds_exactly_the_preprocessed_images(
    celeba: WrittenCelebA, cache_root: Path, workers: int, size: int, resize: str
) -> None:
    data = prepare(open_celeba(celeba.path), size, resize=resize, workers=workers)
    assert data.path.parent == cache_root
    assert data.images.shape == (24, size, size, 3)
    assert isinstance(data.images, np.memmap)  # stays on disk
    np.testing.assert_array_equal(data.images, expected_pixels(celeba, size, resize))
    assert data.names.tolist() == celeba.names
    np.testing.assert_array_equal(data.labels, celeba.labels)
    np.testing.assert_array_equal(data.partition, celeba.partition)
    assert data.usable.all()
    assert data.info["split_counts"] == {"train": 15, "val": 5, "test": 4}
    np.testing.assert_allclose(data.template, open_celeba(celeba.path).template(size))


def test_a_finished_cache_is_reused(celeba: WrittenCelebA) -> None:
    first = prepare(open_celeba(celeba.path), 64, workers=1)
    stamp = (first.path / "images.npy").stat().st_mtime_ns
    calls: list[tuple[int, int]] = []
    again = prepare(open_celeba(celeba.path), 64, on_progress=lambda d, t: calls.append((d, t)))
    assert again.path == first.path and calls == []
    assert (first.path / "images.npy").stat().st_mtime_ns == stamp


def test_another_size_or_a_changed_dataset_gets_its_own_cache(celeba: WrittenCelebA) -> None:
    small = prepare(open_celeba(celeba.path), 64, workers=1)
    large = prepare(open_celeba(celeba.path), 128, workers=1)
    attributes = celeba.text_file("list_attr_celeba.txt")
    attributes.write_text(attributes.read_text().replace(" 1", "-1", 1))
    changed = prepare(open_celeba(celeba.path), 64, workers=1)
    assert len({small.path, large.path, changed.path}) == 3
    assert not np.array_equal(changed.labels, small.labels)


class Stop(Exception):
    pass


def stop_after_first_chunk(celeba: CelebA, size: int) -> Path:
    """Start building the cache of ``celeba`` and stop it once a chunk is on disk; its folder."""

    def stop(done: int, total: int) -> None:
        if done > 0:
            raise Stop

    with pytest.raises(Stop):
        prepare(celeba, size, workers=1, on_progress=stop)
    return cache_folder(celeba, size)


def test_an_interrupted_build_resumes_where_it_stopped(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "d", 300)
    celeba = open_celeba(written.path)
    folder = stop_after_first_chunk(celeba, 64)
    status = np.fromfile(folder / "status.bin", dtype=np.uint8)
    finished = int(np.count_nonzero(status == DONE))
    assert 0 < finished < 300 and np.count_nonzero(status == TODO) == 300 - finished
    with pytest.raises(DatasetError, match="not a complete dataset cache"):
        open_cache(folder)

    resumed: list[int] = []
    data = prepare(celeba, 64, workers=1, on_progress=lambda d, t: resumed.append(d))
    assert resumed[0] == finished and resumed[-1] == 300
    np.testing.assert_array_equal(data.images, expected_pixels(written, 64))


def test_a_killed_prepare_command_goes_on_when_run_again(tmp_path: Path, cache_root: Path) -> None:
    written = write_celeba(tmp_path / "d", 240)
    command = [
        sys.executable,
        "-m",
        "trainer",
        "prepare",
        str(written.path),
        "--size",
        "256",
        "--workers",
        "1",
    ]
    process = subprocess.Popen(command + ["--progress", "json"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # wait for the first chunk on disk, then kill -9
        event = json.loads(line)
        if event["event"] == "prepare" and 0 < event["done"] < event["total"]:
            process.kill()
            break
    process.wait(timeout=60)
    assert process.returncode == -9
    (folder,) = cache_root.iterdir()
    assert not (folder / "cache.json").exists()
    done_before = int(np.count_nonzero(np.fromfile(folder / "status.bin", dtype=np.uint8) == DONE))
    assert 0 < done_before < 240

    result = subprocess.run(command + ["--progress", "json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    progress = [json.loads(line) for line in result.stdout.splitlines()]
    assert progress[0]["event"] == "prepare" and progress[0]["done"] >= done_before
    assert progress[-1]["event"] == "prepared" and progress[-1]["usable"] == 240
    np.testing.assert_array_equal(open_cache(folder).images, expected_pixels(written, 256))


def test_unusable_images_are_skipped_named_and_counted(celeba: WrittenCelebA) -> None:
    folder = celeba.root / "img_align_celeba"
    (folder / celeba.names[2]).write_bytes(celeba.images[celeba.names[2]][:300])  # truncated
    (folder / celeba.names[7]).write_bytes(b"GIF89a not really")
    with pytest.warns(DatasetWarning) as caught:
        data = prepare(open_celeba(celeba.path), 64, workers=1)
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith(f"skipping {celeba.names[2]}: unreadable image")
    assert messages[1].startswith(f"skipping {celeba.names[7]}: unreadable image")
    assert data.info["unusable"] == 2 and data.info["usable"] == 22
    assert np.flatnonzero(~data.usable).tolist() == [2, 7]
    assert 2 not in data.split_indices("train") and 7 not in data.split_indices("all")
    skipped = (data.path / "skipped.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in skipped) == [celeba.names[2], celeba.names[7]]


def test_a_dataset_with_no_usable_image_is_an_error(celeba: WrittenCelebA) -> None:
    for name in celeba.names:
        (celeba.root / "img_align_celeba" / name).write_bytes(b"broken")
    with pytest.warns(DatasetWarning), pytest.raises(DatasetError, match="none of the images could be used"):
        prepare(open_celeba(celeba.path), 64, workers=1)
    assert not (cache_folder(open_celeba(celeba.path), 64) / "cache.json").exists()


@pytest.mark.parametrize("damage", ["truncated-images", "garbled-table", "garbled-info"])
def test_a_damaged_cache_is_rebuilt(celeba: WrittenCelebA, damage: str) -> None:
    data = prepare(open_celeba(celeba.path), 64, workers=1)
    folder = data.path
    del data
    if damage == "truncated-images":
        with open(folder / "images.npy", "r+b") as f:
            f.truncate((folder / "images.npy").stat().st_size // 2)
    elif damage == "garbled-table":
        (folder / "table.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    else:
        (folder / "cache.json").write_text('{"format": "fader-studio-cache/1", "size": 64')
    with pytest.raises(DatasetError, match="damaged dataset cache"):
        open_cache(folder)
    with pytest.warns(DatasetWarning, match="damaged dataset cache .*; rebuilding it"):
        rebuilt = prepare(open_celeba(celeba.path), 64, workers=1)
    np.testing.assert_array_equal(rebuilt.images, expected_pixels(celeba, 64))


def test_a_second_build_of_the_same_cache_is_refused_while_one_runs(celeba: WrittenCelebA) -> None:
    fcntl = pytest.importorskip("fcntl")  # advisory locks exist on POSIX only
    dataset = open_celeba(celeba.path)
    folder = cache_folder(dataset, 64)
    folder.mkdir(parents=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(DatasetError, match="another `fader-train prepare` is building this cache"):
            prepare(dataset, 64, workers=1)
    assert prepare(dataset, 64, workers=1).usable.all()


FULL_DISK = """
import resource, signal, sys
from fader_studio.core.errors import DatasetError
from trainer.cache import prepare
from trainer.celeba import open_celeba
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))  # no file may grow past this
try:
    prepare(open_celeba({path!r}), 128, workers=1)
except DatasetError as e:
    print(e)
    sys.exit(2)
"""


def prepare_on_a_full_disk(written: WrittenCelebA, limit: int) -> subprocess.CompletedProcess:
    pytest.importorskip("resource")
    script = FULL_DISK.format(limit=limit, path=str(written.path))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_a_disk_too_full_for_the_cache_is_said_at_once_and_leaves_nothing(
    celeba: WrittenCelebA, cache_root: Path
) -> None:
    result = prepare_on_a_full_disk(celeba, 4_000)
    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith(f"{cache_root}/") and result.stdout.count("\n") == 1
    assert "cannot write the cache (File too large)" in result.stdout
    (folder,) = cache_root.iterdir()
    assert list(folder.iterdir()) == []
    data = prepare(open_celeba(celeba.path), 128, workers=1)
    np.testing.assert_array_equal(data.images, expected_pixels(celeba, 128))


def test_a_disk_full_while_writing_keeps_the_finished_images_and_the_next_run_finishes(
    tmp_path: Path, cache_root: Path
) -> None:
    written = write_celeba(tmp_path / "d", 120)
    celeba = open_celeba(written.path)
    folder = stop_after_first_chunk(celeba, 128)
    before = np.fromfile(folder / "status.bin", dtype=np.uint8)
    result = prepare_on_a_full_disk(written, 3_000_000)  # images.npy is 5.9 MB
    assert result.returncode == 2, result.stderr
    assert "cannot write the cache (File too large); the next prepare goes on" in result.stdout
    after = np.fromfile(folder / "status.bin", dtype=np.uint8)
    assert np.all(after[before == DONE] == DONE)
    assert np.count_nonzero(after == DONE) < 120 and not (folder / "cache.json").exists()
    data = prepare(celeba, 128, workers=1)
    np.testing.assert_array_equal(data.images, expected_pixels(written, 128))


@pytest.mark.parametrize(
    ("size", "resize", "reason"),
    [
        (100, "lanczos", "size must be one of 64, 128, 256"),
        (64, "bicubic", "resize must be one of auto, area, lanczos"),
    ],
)
def test_bad_size_or_filter(celeba: WrittenCelebA, size: int, resize: str, reason: str) -> None:
    with pytest.raises(DatasetError, match=reason):
        prepare(open_celeba(celeba.path), size, resize=resize)
