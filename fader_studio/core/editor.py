"""The editor's work, without Qt: a model, the open photo, its faces' renders, exports, sweeps, batches.

:class:`Editor` is what the app's worker thread runs, and what
``fader-studio edit`` runs for one photo, so both make the same pixels. As in
napari (the slicing logic is Qt-free, the Qt layer only relays it), it
returns numpy arrays and plain dataclasses; :mod:`fader_studio.ui.session`
calls it on its worker thread and turns its results into Qt signals and
images. An :class:`Editor` is used by one thread at a time.

Torch is imported when the first model is loaded, not with this module.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .attributes import AttributeSpec
from .errors import FaderStudioError, NoFaceError
from .regions import DEFAULT_REGION, MaskState

if TYPE_CHECKING:
    from .batch import BatchSettings, Progress, Report
    from .edit import PhotoEdit
    from .engine import Engine
    from .imageio import Photo
    from .landmarks import FaceLandmarker
    from .modelfile import FaderModel
    from .onnx_backend import OnnxNetworks
    from .presets import Preset


@dataclass(frozen=True)
class ModelInfo:
    """What the editor shows about a loaded model."""

    path: Path
    name: str
    attributes: tuple[AttributeSpec, ...]
    device: str  # the device and, on the CPU, the backend
    backend_problem: str = ""  # why ONNX Runtime is not used, where it could be


@dataclass(frozen=True)
class FaceInfo:
    """A face of the open photo."""

    box: tuple[float, float, float, float]  # detection box (x, y, w, h) in photo pixels
    region: tuple[int, int, int, int]  # the rectangle an edit may change (x0, y0, x1, y1)
    start: dict[str, float]  # the face's own values, from the classifier
    mask: MaskState  # where on the face an edit applies


@dataclass(frozen=True)
class OpenedPhoto:
    """An opened photo: its pixels and faces (none without a model, or when none was found)."""

    path: Path
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    faces: tuple[FaceInfo, ...]
    whole_image: bool = False
    no_face: str | None = None  # why no face was found, when a model looked for one
    regions_note: str | None = None  # why face regions are drawn from five points only, if they are

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.pixels.shape[1], self.pixels.shape[0]


@dataclass(frozen=True)
class MaskView:
    """A face's mask for an overlay: ``alpha`` (h, w) uint8 over ``rect`` (x0, y0, x1, y1) of the photo."""

    face: int
    rect: tuple[float, float, float, float]  # in full-resolution photo pixels
    alpha: np.ndarray  # at the preview's resolution; 255 where the edit applies fully


@dataclass(frozen=True)
class FaceRender:
    """A face's region at some values: ``pixels`` at the preview's resolution (``None``: the photo's own)."""

    face: int
    rect: tuple[float, float, float, float]  # (x0, y0, x1, y1) in full-resolution photo pixels
    pixels: np.ndarray | None


class Editor:
    """One model and one open photo: open, render, export, sweep and batch with them.

    ``device`` (cpu, cuda, cuda:N, mps; ``None``: the best one) and ``backend``
    (auto, torch, onnx; ``None``: auto) apply to models loaded from then on;
    ``match_colour`` to photos opened from then on.
    """

    def __init__(
        self, device: str | None = None, backend: str | None = None, *, match_colour: bool = True
    ) -> None:
        self.device = device
        self.backend = backend
        self.match_colour = match_colour
        self.engine: Engine | None = None
        self.photo: Photo | None = None
        self.document: PhotoEdit | None = None  # the open photo's faces, with the model loaded
        self.region = DEFAULT_REGION  # where on the faces of photos opened from now on edits apply
        self._whole_image = False
        self._landmarker: FaceLandmarker | None = None  # made on first use, on the editor's thread

    def load_model(
        self, path: str | Path, view_scale: float | None = None
    ) -> tuple[ModelInfo, OpenedPhoto | None]:
        """Load the model at ``path``; the open photo's faces are found and encoded again with it
        (and, given ``view_scale``, warmed up as :meth:`open_photo` says)."""
        from .modelfile import load_model

        return self.use_model(load_model(path), path, view_scale)

    def use_model(
        self, model: FaderModel, path: str | Path, view_scale: float | None = None
    ) -> tuple[ModelInfo, OpenedPhoto | None]:
        """:meth:`load_model` with ``model``, already read from ``path``."""
        from .engine import Engine

        path = Path(path)
        self.engine = engine = Engine(model, self.device, backend=self.backend)
        info = ModelInfo(
            path=path,
            name=path.stem,
            attributes=tuple(model.attributes),
            device=engine.description,
            backend_problem=engine.onnx_problem or "",
        )
        self.document = None
        if self.photo is None:
            return info, None
        return info, self._find_faces(self._whole_image, view_scale)

    def open_photo(
        self, path: str | Path, *, whole_image: bool = False, view_scale: float | None = None
    ) -> OpenedPhoto:
        """Open the photo at ``path`` and, with a model loaded, find and encode its faces.

        ``whole_image`` takes an aligned 178×218 photo as one face (the photo
        already open is not read again). Given ``view_scale`` (an editor's
        view), the faces' first render at it is prepared, so the first fader
        move pays no first-call costs; a one-off edit leaves that work out.
        """
        from .imageio import load_image

        path = Path(path)
        if not (whole_image and self.photo is not None and self.photo.path == path):
            self.photo = load_image(path)  # read again: the file may have changed since
        self._whole_image = whole_image
        self.document = None
        return self._find_faces(whole_image, view_scale)

    def _find_faces(self, whole_image: bool, view_scale: float | None) -> OpenedPhoto:
        from .edit import PhotoEdit

        photo = self.photo
        assert photo is not None
        if self.engine is None:
            return OpenedPhoto(photo.path, photo.pixels, ())
        from .landmarks import FaceLandmarker

        if self._landmarker is None:
            self._landmarker = FaceLandmarker()
        try:
            document = PhotoEdit(
                photo,
                self.engine,
                whole_image=whole_image,
                match_colour=self.match_colour,
                landmarker=self._landmarker,
                region=self.region,
            )
        except NoFaceError as e:
            return OpenedPhoto(photo.path, photo.pixels, (), no_face=str(e))
        faces = tuple(
            FaceInfo(tuple(f.aligned.face.box), document.region(i), dict(f.start), document.mask(i))
            for i, f in enumerate(document.faces)
        )
        if view_scale is not None:
            document.warm_up(view_scale)
        self.document = document
        note = None
        if document.landmark_problem:
            note = f"face regions are drawn from five points: {document.landmark_problem}"
        return OpenedPhoto(photo.path, photo.pixels, faces, whole_image, regions_note=note)

    def render(
        self, faces: Sequence[tuple[int, Mapping[str, float]]], view_scale: float = 1.0, blend: str = "detail"
    ) -> list[FaceRender]:
        """Each of ``faces`` (index, values), rendered for a view of ``view_scale`` screen pixels a pixel."""
        document = self._open_document()
        document.blend = blend
        renders = []
        for face, values in faces:
            document.set(face, dict(values))
            if document.is_edited(face):
                region = document.preview(face, view_scale)
                renders.append(FaceRender(face, region.rect, region.pixels))
            else:
                renders.append(FaceRender(face, tuple(map(float, document.region(face))), None))
        return renders

    def set_region(self, face: int, region: str) -> None:
        """Limit face ``face``'s edits to ``region`` (its painting is undone)."""
        self._open_document().set_region(face, region)

    def set_mask(self, face: int, state: MaskState) -> None:
        """Give face ``face`` the mask ``state`` (an undo's)."""
        self._open_document().set_mask(face, state)

    def paint(
        self, face: int, dabs: Sequence[tuple[float, float]], radius: float, hardness: float, erase: bool
    ) -> None:
        """Brush ``dabs`` (photo pixels) into face ``face``'s mask (``radius`` in photo pixels)."""
        document = self._open_document()
        for centre in dabs:
            document.paint(face, centre, radius, hardness, erase)

    def mask(self, face: int) -> MaskState:
        """Face ``face``'s mask (a copy)."""
        return self._open_document().mask(face)

    def mask_view(self, face: int, view_scale: float = 1.0) -> MaskView:
        """Face ``face``'s mask as a view at ``view_scale`` overlays it."""
        preview = self._open_document().mask_preview(face, view_scale)
        return MaskView(face, preview.rect, preview.pixels)

    def apply_look(self, look: Preset, faces: str | int = "all") -> tuple[int, tuple[str, ...]]:
        """Set ``faces`` ("all", "largest" or an index) to ``look``; how many faces are edited, and the
        look's attributes this model lacks."""
        from .batch import apply_look

        document = self._open_document()
        skipped = apply_look(document, look, faces)
        return sum(document.is_edited(i) for i in range(len(document.faces))), skipped

    def export(
        self,
        path: str | Path,
        values: Sequence[Mapping[str, float]] | None = None,
        *,
        quality: int | None = None,
        blend: str | None = None,
    ) -> tuple[Path, list[str]]:
        """Write the photo with every face at ``values`` (one mapping per face; ``None``: as set) to ``path``.

        Returns the file written and what the user should know about it (one
        line each, e.g. metadata that could not be kept).
        """
        from .imageio import JPEG_QUALITY, ExportWarning, save_image

        document = self._open_document()
        if blend is not None:
            document.blend = blend
        for index, face_values in enumerate(values or ()):
            document.set(index, face_values)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExportWarning)
            written = save_image(
                document.render(), path, source=document.photo, quality=quality or JPEG_QUALITY
            )
        return written, [str(warning.message) for warning in caught]

    def sweep(
        self,
        path: str | Path,
        face: int,
        values: Mapping[str, float],
        name: str,
        steps: int,
        blend: str = "detail",
    ) -> Path:
        """Write a sweep of attribute ``name`` of face ``face`` (other faders at ``values``) to ``path``."""
        from .sweep import save_sweep, sweep_frames

        document = self._open_document()
        document.blend = blend
        document.set(face, values)
        return save_sweep(sweep_frames(document, face, name, steps), path)

    def batch(
        self,
        inputs: Sequence[str | Path],
        settings: BatchSettings,
        *,
        recursive: bool = False,
        progress: Callable[[Progress], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Report:
        """Apply ``settings``' look to the photos of ``inputs`` (files and folders) with the loaded model."""
        from .batch import find_photos, plan_batch, run_batch

        if self.engine is None:
            raise FaderStudioError("open a model first")
        photos, missing = find_photos(inputs, recursive=recursive)
        jobs, clashes = plan_batch(photos, settings)
        return run_batch(
            self.engine, jobs, settings, progress=progress, stop=stop, problems=missing + clashes
        )

    def use_onnx(
        self, engine: Engine, networks: OnnxNetworks | None, problem: str | None, view_scale: float
    ) -> bool:
        """Switch ``engine`` to ONNX Runtime with ``networks`` (``None``: stay on torch, because of
        ``problem``), if it is still the loaded one; whether it was."""
        if engine is not self.engine:
            return False  # another model was opened meanwhile
        engine.use_onnx(networks)
        engine.onnx_problem = problem
        if self.document is not None:
            self.document.warm_up(view_scale)
        return True

    def _open_document(self) -> PhotoEdit:
        if self.document is None:
            raise FaderStudioError("no photo with faces is open")
        return self.document
