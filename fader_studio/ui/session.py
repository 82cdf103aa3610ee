"""The editor's bridge to the inference worker: every torch call runs on one thread, never the UI's.

:class:`EditorSession` relays a :class:`~fader_studio.core.editor.Editor`, the
Qt-free service that does the work, through a
:class:`~fader_studio.core.renderer.LatestWinsRenderer`. Loading a model,
opening a photo (read, detect, align, encode, classify), exporting and
sweeping are ordered calls on its thread; fader previews are latest-wins
requests on the same thread. Results come back to the UI thread as Qt signals
(pixels as ``QImage``). The UI thread keeps its own copy of what it needs
(fader values, face boxes), so it never touches the worker's objects and never waits.

Torch is imported by the worker, not at start-up, so the window paints first.

On the CPU, a model without a cached ONNX export starts on torch; the export
runs on a thread of its own (minutes of work never block a fader), and the
worker switches to ONNX Runtime when it is ready and checked. Previews are
composited at the resolution the view shows (:meth:`EditorSession.set_view_scale`),
and each opened photo is warmed up so the first fader move pays no first-call costs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from ..core.editor import Editor, FaceInfo, ModelInfo, OpenedPhoto
from ..core.errors import FaderStudioError, first_line
from ..core.regions import MaskState
from ..core.renderer import LatestWinsRenderer, RenderResult
from ..core.template import CELEBA_HEIGHT, CELEBA_WIDTH

log = logging.getLogger(__name__)


def to_qimage(pixels: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 RGB array as a QImage that owns a copy of the pixels."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


#: What :attr:`EditorSession.failed` says was being done when a mask change failed.
MASK_CHANGE = "Changing the mask"
#: The colour of the mask overlay, and how opaque it is where the edit applies fully.
MASK_COLOUR, MASK_OPACITY = (255, 60, 60), 0.45


def mask_qimage(alpha: np.ndarray) -> QImage:
    """A mask (h, w) uint8 as a translucent overlay: :data:`MASK_COLOUR` where it is 255, clear at 0."""
    weight = alpha.astype(np.float32) * (MASK_OPACITY / 255)
    red, green, blue = MASK_COLOUR
    bgra = np.stack([blue * weight, green * weight, red * weight, 255 * weight], axis=-1)  # premultiplied
    pixels = np.ascontiguousarray(np.rint(bgra).astype(np.uint8))
    height, width = alpha.shape
    return QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied).copy()


@dataclass(frozen=True)
class PhotoInfo:
    """An opened photo: its pixels for the view and its faces (none until a model is loaded)."""

    path: Path
    image: QImage
    size: tuple[int, int]
    faces: tuple[FaceInfo, ...]
    generation: int  # renders of an older photo or model are dropped
    whole_image: bool = False
    regions_note: str | None = None  # why face regions are drawn from five points only, if they are


@dataclass(frozen=True)
class MaskUpdate:
    """A face's mask changed (or was asked for): its state, its overlay, and the face rendered through it."""

    face: int
    state: MaskState
    rect: tuple[float, float, float, float]  # of the overlay, in photo pixels
    overlay: QImage  # the mask as a translucent overlay, at the preview's resolution
    render: tuple[tuple[float, ...], QImage] | None  # the face's region at its values (null: the original)
    generation: int


@dataclass(frozen=True)
class Preview:
    """A render request: faces of photo generation ``generation``, each at its values.

    A request carries every face whose newest values are not on screen yet, so
    that when it replaces an older pending request (latest wins), no face's
    last change is lost.
    """

    generation: int
    faces: tuple[tuple[int, tuple[tuple[str, float], ...]], ...]
    view_scale: float = 1.0  # screen pixels per photo pixel: the preview's resolution
    blend: str = "detail"  # how edits go back into the photo (fader_studio.core.composite)


class EditorSession(QObject):
    """Models, the open photo and renders, all on one worker thread."""

    #: Loading started or finished: a status message, or "" when idle.
    busy = Signal(str)
    modelLoaded = Signal(object)  # noqa: N815 (Qt naming) ModelInfo
    #: A photo is open (PhotoInfo); with a model, its faces are found and encoded.
    photoLoaded = Signal(object)  # noqa: N815
    #: The photo opened but no face was found: (PhotoInfo without faces, message, whole image possible).
    noFace = Signal(object, str, bool)  # noqa: N815
    #: A face's region rendered: (face, (x0, y0, x1, y1) in photo pixels, QImage at the preview's
    #: resolution); the QImage is null for "show the original".
    rendered = Signal(int, object, QImage)
    #: The engine changed backend (ONNX Runtime ready): (device and backend, why not ONNX or "").
    backendChanged = Signal(str, str)  # noqa: N815
    #: An export or sweep was written (path).
    saved = Signal(str)
    #: Something the user should know about a finished export (one line), e.g. EXIF left out.
    noted = Signal(str)
    #: An official model was converted and written (path of the .fader).
    imported = Signal(str)
    #: A batch export moved on: a :class:`fader_studio.core.batch.Progress`.
    batchProgress = Signal(object)  # noqa: N815
    #: A batch export ended (finished or cancelled): its :class:`fader_studio.core.batch.Report`.
    batchDone = Signal(object)  # noqa: N815
    #: A face's mask changed or its overlay was asked for: a :class:`MaskUpdate`.
    maskChanged = Signal(object)  # noqa: N815
    #: Something failed: (what was being done, one-line message).
    failed = Signal(str, str)
    _done = Signal(object, object)  # (future, callback) back on the UI thread
    _render_done = Signal(object)  # a RenderResult, back on the UI thread

    def __init__(
        self, device: str | None = None, backend: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._editor = Editor(device, backend)  # used on the worker thread only
        self._view_scale = 1.0
        self.blend = "detail"
        self._export_thread: threading.Thread | None = None
        self._batch_stop = threading.Event()
        self._notes: list[str] = []  # of the last export
        self._renderer: LatestWinsRenderer[Preview] = LatestWinsRenderer(self._render, self._on_result)
        self._done.connect(self._finish)
        self._render_done.connect(self._rendered)
        self.generation = 0  # of the photo and model shown
        self._requested = 0  # the newest generation asked for
        self._unrendered: dict[int, tuple[tuple[str, float], ...]] = {}
        self._calls = 0
        self._closed = False
        self.model: ModelInfo | None = None
        self.photo: PhotoInfo | None = None
        # worker-thread state
        self._photo_image: tuple[np.ndarray | None, QImage] = (None, QImage())  # made once per photo read
        self._document_generation = -1  # of the faces the editor holds

    # requests from the UI thread

    def set_device(self, device: str | None) -> None:
        """Run models opened from now on on ``device`` (cpu, cuda, cuda:N, mps; ``None``: the best one)."""
        self._editor.device = device

    def set_backend(self, backend: str | None) -> None:
        """Run models opened from now on with ``backend`` (auto, torch, onnx; ``None``: auto)."""
        self._editor.backend = backend

    def set_blend(self, blend: str) -> None:
        """Bring edits back into the photo this way from now on: ``detail`` or ``replace``.

        Previews, exports and sweeps asked for after this call use it; faces
        already on screen are not rendered again (the caller asks for them).
        """
        self.blend = blend

    def set_view_scale(self, scale: float) -> None:
        """Render previews for a view showing ``scale`` screen pixels per photo pixel."""
        self._view_scale = max(float(scale), 1e-3)

    def open_model(self, path: str | Path) -> None:
        """Load the model at ``path`` (and re-encode the open photo with it)."""
        self._requested += 1
        self._call(
            f"Loading model {Path(path).name}…",
            "Opening the model",
            self._load_model,
            self._model_loaded,
            Path(path),
            self._requested,
        )

    def open_photo(self, path: str | Path, *, whole_image: bool = False) -> None:
        """Open the photo at ``path`` and, with a model loaded, find and encode its faces."""
        self._requested += 1
        what = "Finding and encoding faces" if self.model else "Opening"
        self._call(
            f"{what} in {Path(path).name}…",
            "Opening the photo",
            self._load_photo,
            self._photo_loaded,
            Path(path),
            whole_image,
            self._requested,
        )

    def preview(self, face: int, values: Mapping[str, float]) -> int:
        """Render face ``face`` at ``values`` in the background (the newest request wins); its id."""
        if self._closed:
            return 0
        self._unrendered[face] = tuple(values.items())
        request = Preview(self.generation, tuple(self._unrendered.items()), self._view_scale, self.blend)
        return self._renderer.submit(request)

    def set_region(self, face: int, region: str, values: Mapping[str, float]) -> None:
        """Limit face ``face``'s edit to ``region``, and render it at ``values`` (:attr:`maskChanged`)."""
        self._mask_call(face, values, lambda: self._editor.set_region(face, region))

    def set_mask(self, face: int, state: MaskState, values: Mapping[str, float]) -> None:
        """Give face ``face`` the mask ``state`` (an undo's) and render it at ``values``."""
        self._mask_call(face, values, lambda: self._editor.set_mask(face, state))

    def paint(
        self,
        face: int,
        dabs: list[tuple[float, float]],
        brush: tuple[float, float, bool],
        values: Mapping[str, float],
    ) -> None:
        """Brush ``dabs`` (photo pixels) into face ``face``'s mask, ``brush`` (radius in photo pixels,
        hardness, erase), and render it at ``values``."""
        radius, hardness, erase = brush
        self._mask_call(face, values, lambda: self._editor.paint(face, dabs, radius, hardness, erase))

    def show_mask(self, face: int) -> None:
        """Send face ``face``'s mask overlay (:attr:`maskChanged`, without a render)."""
        self._mask_call(face, None, lambda: None)

    def export(self, path: str | Path, values: list[dict[str, float]], quality: int) -> None:
        """Write the photo with every face at ``values`` (one dict per face) to ``path``."""
        self._call(
            f"Exporting {Path(path).name}…",
            "Exporting",
            self._export,
            self._saved,
            Path(path),
            values,
            quality,
            self.blend,
        )

    def export_sweep(
        self, path: str | Path, face: int, values: dict[str, float], name: str, steps: int
    ) -> None:
        """Write a sweep of attribute ``name`` of face ``face`` (other faders at ``values``)."""
        self._call(
            f"Writing a sweep of {name}…",
            "Exporting the sweep",
            self._sweep,
            self._saved,
            Path(path),
            face,
            values,
            name,
            steps,
            self.blend,
        )

    def export_batch(self, inputs: list[Path], settings: Any, *, recursive: bool = False) -> None:
        """Apply a look to the photos of ``inputs`` (files and folders) with the open model.

        ``settings`` is a :class:`fader_studio.core.batch.BatchSettings`.
        Progress comes as :attr:`batchProgress`, the end as :attr:`batchDone`;
        :meth:`cancel_batch` stops it after the photo being edited.
        """
        self._batch_stop = threading.Event()
        self._call(
            "Exporting a batch…",
            "Exporting the batch",
            self._batch,
            self.batchDone.emit,
            list(inputs),
            recursive,
            settings,
            self._batch_stop,
        )

    def cancel_batch(self) -> None:
        """Stop the running batch after the photo being edited (every written file stays complete)."""
        self._batch_stop.set()

    def import_official(self, path: Path, classifier: Path | None, target: Path) -> None:
        """Convert the official model at ``path`` (with ``classifier``) and write it to ``target``."""
        self._call(
            f"Importing {path.name}…",
            "Importing the model",
            self._import_official,
            lambda written: self.imported.emit(str(written)),
            path,
            classifier,
            target,
        )

    @property
    def renderer(self) -> LatestWinsRenderer[Preview]:
        """The worker (its counts of renders and skipped requests, for tests and benchmarks)."""
        return self._renderer

    def wait_idle(self, timeout: float = 30.0, *, export: bool = False) -> bool:
        """Block until the worker has nothing to do (and, with ``export``, an ONNX export is done)."""
        deadline = time.monotonic() + timeout
        thread = self._export_thread
        if export and thread is not None:
            thread.join(timeout)
        return self._renderer.wait_idle(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop the worker (a running call finishes first)."""
        self._closed = True
        self._renderer.close()

    # plumbing

    def _call(
        self, message: str, doing: str, function: Callable[..., Any], then: Callable[[Any], None], *args: Any
    ) -> None:
        self._calls += 1
        if message:  # quick calls (a brush dab) leave the status bar alone
            self.busy.emit(message)
        future = self._renderer.call(function, *args)
        future.add_done_callback(lambda f: self._done.emit(f, (then, doing)))

    @Slot(object, object)
    def _finish(self, future: Future, callback: tuple[Callable[[Any], None], str]) -> None:
        then, doing = callback
        self._calls -= 1
        if not self._calls:
            self.busy.emit("")
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            then(future.result())
        elif isinstance(error, FaderStudioError):
            self.failed.emit(doing, str(error))
        else:
            log.error("%s failed", doing, exc_info=error)
            self.failed.emit(doing, f"unexpected error: {first_line(error, named=True)}")

    def _on_result(self, result: RenderResult[Preview]) -> None:  # worker thread
        self._render_done.emit(result)

    @Slot(object)
    def _rendered(self, result: RenderResult[Preview]) -> None:
        if result.request.generation != self.generation:
            return  # a render of a photo or model that is no longer shown
        if result.error is not None:
            self.failed.emit("Rendering", str(result.error))
            return
        for face, values in result.request.faces:
            if self._unrendered.get(face) == values:
                del self._unrendered[face]
        for face, rect, image in result.value or ():
            self.rendered.emit(face, rect, image)

    def _model_loaded(self, result: tuple[ModelInfo, PhotoInfo | None, str | None]) -> None:
        self.model, photo, no_face = result
        self.modelLoaded.emit(self.model)
        if photo is not None:
            self._photo_result(photo, no_face)

    def _photo_loaded(self, result: tuple[PhotoInfo, str | None]) -> None:
        self._photo_result(*result)

    def _photo_result(self, photo: PhotoInfo, no_face: str | None) -> None:
        self.photo = photo
        self.generation = photo.generation
        self._unrendered.clear()
        if no_face is not None:
            whole = self.model is not None and photo.size == (CELEBA_WIDTH, CELEBA_HEIGHT)
            self.noFace.emit(photo, no_face, whole)
        else:
            self.photoLoaded.emit(photo)

    def _mask_call(self, face: int, values: Mapping[str, float] | None, change: Callable[[], object]) -> None:
        if not self._closed:
            self._call("", MASK_CHANGE, self._masked, self._mask_done, face, values, change, self.generation)

    def _mask_done(self, update: MaskUpdate | None) -> None:
        if update is None or update.generation != self.generation:
            return  # a photo or model that is no longer shown
        self.maskChanged.emit(update)
        if update.render is not None:
            self.rendered.emit(update.face, *update.render)

    def _saved(self, path: Path) -> None:
        self.saved.emit(str(path))
        notes, self._notes = self._notes, []
        for note in notes:
            self.noted.emit(note)

    # worker thread

    def _load_model(self, path: Path, generation: int) -> tuple[ModelInfo, PhotoInfo | None, str | None]:
        info, opened = self._editor.load_model(path, self._view_scale)
        engine = self._editor.engine
        if engine is not None and engine.wants_onnx:
            self._export_thread = threading.Thread(
                target=self._export_onnx, args=(engine,), name="fader-onnx-export", daemon=True
            )
            self._export_thread.start()
        if opened is None:
            return info, None, None
        return (info, *self._photo_info(opened, generation))

    def _load_photo(self, path: Path, whole_image: bool, generation: int) -> tuple[PhotoInfo, str | None]:
        opened = self._editor.open_photo(path, whole_image=whole_image, view_scale=self._view_scale)
        return self._photo_info(opened, generation)

    def _photo_info(self, opened: OpenedPhoto, generation: int) -> tuple[PhotoInfo, str | None]:
        pixels, image = self._photo_image
        if pixels is not opened.pixels:  # a photo read again
            self._photo_image = (opened.pixels, image := to_qimage(opened.pixels))
        self._document_generation = generation
        info = PhotoInfo(
            opened.path, image, opened.size, opened.faces, generation, opened.whole_image, opened.regions_note
        )
        return info, opened.no_face

    def _render(self, request: Preview) -> list[tuple[int, tuple[float, ...], QImage]]:
        if self._editor.document is None or request.generation != self._document_generation:
            return []
        renders = self._editor.render(request.faces, request.view_scale, request.blend)
        return [(r.face, r.rect, QImage() if r.pixels is None else to_qimage(r.pixels)) for r in renders]

    def _masked(
        self, face: int, values: Mapping[str, float] | None, change: Callable[[], object], generation: int
    ) -> MaskUpdate | None:
        if self._editor.document is None or generation != self._document_generation:
            return None
        change()
        view = self._editor.mask_view(face, self._view_scale)
        state = self._editor.mask(face)
        render = None
        if values is not None:
            (made,) = self._editor.render([(face, dict(values))], self._view_scale, self.blend)
            render = (made.rect, QImage() if made.pixels is None else to_qimage(made.pixels))
        return MaskUpdate(face, state, view.rect, mask_qimage(view.alpha), render, generation)

    def _export_onnx(self, engine: Any) -> None:  # its own thread: the worker keeps rendering with torch
        try:
            networks, problem = engine.prepare_onnx(), None
        except FaderStudioError as e:
            networks, problem = None, str(e)
        except Exception as e:  # noqa: BLE001 (a bug in an exporter must not take the editor down)
            log.error("ONNX export failed", exc_info=e)
            networks, problem = None, first_line(e, named=True)
        with contextlib.suppress(RuntimeError):  # the editor closed meanwhile; a finished export stays cached
            self._renderer.call(self._switch_backend, engine, networks, problem)

    def _switch_backend(self, engine: Any, networks: Any, problem: str | None) -> None:  # worker thread
        if self._editor.use_onnx(engine, networks, problem, self._view_scale):
            self.backendChanged.emit(engine.description, problem or "")

    def _export(self, path: Path, values: list[dict[str, float]], quality: int, blend: str) -> Path:
        written, self._notes = self._editor.export(path, values, quality=quality, blend=blend)
        return written  # the notes are said after "saved", in _saved

    def _batch(self, inputs: list[Path], recursive: bool, settings: Any, stop: threading.Event) -> Any:
        return self._editor.batch(
            inputs, settings, recursive=recursive, progress=self.batchProgress.emit, stop=stop
        )

    def _import_official(self, path: Path, classifier: Path | None, target: Path) -> Path:
        from ..core.modelfile import save_model
        from ..core.official_import import import_official

        return save_model(import_official(path, classifier), target)

    def _sweep(
        self, path: Path, face: int, values: dict[str, float], name: str, steps: int, blend: str
    ) -> Path:
        return self._editor.sweep(path, face, values, name, steps, blend)
