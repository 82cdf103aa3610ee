"""The main window: menus, the photo view, the fader panel and the status bar.

The window keeps the UI's side of an edit (each face's fader values and
starting values in a :class:`~fader_studio.ui.face_values.FaceValues`, which
the undo history changes) and asks :class:`EditorSession` for everything that
needs the model. It never runs torch and never waits for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__, resources
from ..core import paths
from ..core.editor import ModelInfo
from ..core.errors import ImageError
from ..core.imageio import JPEG_QUALITY, export_format
from .actions import make_action
from .dialogs import OPEN_PHOTO_FILTER, ExportDialog, SweepDialog, edited_name
from .face_values import FaceValues
from .fader_panel import FaderPanel
from .history import FaceHistory
from .mask_tools import MaskTools
from .model_menu import ModelMenu
from .photo_view import PhotoView
from .presets import PresetControls
from .session import EditorSession, PhotoInfo

if TYPE_CHECKING:
    from ..core.presets import Preset
    from .batch_dialog import BatchDialog
    from .train_dialog import TrainDialog

MAX_RECENT = 10


def open_settings() -> QSettings:
    """The app's settings file (in the user config folder, see :mod:`fader_studio.core.paths`)."""
    return QSettings(str(paths.config_dir() / "settings.ini"), QSettings.Format.IniFormat)


class EmptyState(QWidget):
    """What the window shows with no photo: what to do next, with buttons to do it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-size: 18pt;")
        self.text = QLabel()
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self._row = QHBoxLayout()
        layout.addLayout(self._row)
        layout.addStretch(2)
        self.buttons: list[QPushButton] = []

    def show_state(self, title: str, text: str, actions: list[tuple[str, QAction]]) -> None:
        """Show ``title``, ``text`` and one button per ``(label, action)``."""
        self.title.setText(title)
        self.text.setText(text)
        while self._row.count():
            item = self._row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = [QPushButton(label) for label, _ in actions]
        self._row.addStretch(1)
        for button, (_, action) in zip(self.buttons, actions, strict=True):
            button.clicked.connect(action.trigger)
            self._row.addWidget(button)
        self._row.addStretch(1)


class MainWindow(QMainWindow):
    """Fader Studio's editor window."""

    def __init__(self, session: EditorSession | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Fader Studio")
        self.setAcceptDrops(True)
        self.settings = settings or open_settings()
        self.session = session or EditorSession(parent=self)
        self.photo: PhotoInfo | None = None
        self.model: ModelInfo | None = None
        self.face = 0
        self.faces = FaceValues(self)  # per face, what the faders say and where they started
        self.faces.changed.connect(self._face_changed)
        self.error_box: QMessageBox | None = None
        self.history = FaceHistory(self.faces, self)
        self.train_dialog: TrainDialog | None = None

        self.view = PhotoView()
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.panel = FaderPanel()
        self.dock = QDockWidget("Faders", self)
        self.dock.setObjectName("faders")
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.dock.setWidget(self.panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.presets = PresetControls(self._current_face, self)
        self.panel.add_tools(self.presets.box)
        self.presets.applyRequested.connect(self.apply_preset)
        self.presets.failed.connect(self.show_error)
        tell = lambda text: self.statusBar().showMessage(text, 3000)  # noqa: E731
        self.mask_tools = MaskTools(self.session, self.view, self.history, self.faces, tell, self)
        self.panel.add_tools(self.mask_tools.box)
        self._create_actions()
        self._create_status_bar()

        self.panel.previewed.connect(self._previewed)
        self.panel.committed.connect(self._committed)
        self.panel.faceChosen.connect(self.select_face)
        self.panel.whole_image.clicked.connect(self._edit_whole_image)
        self.view.faceClicked.connect(self.select_face)
        self.view.zoomChanged.connect(self._zoomed)
        self._zoom_settled = QTimer(self, singleShot=True, interval=150)
        self._zoom_settled.timeout.connect(self._render_edited_faces)
        self.session.busy.connect(self._busy)
        self.session.modelLoaded.connect(self._model_loaded)
        self.session.photoLoaded.connect(self._photo_loaded)
        self.session.noFace.connect(self._no_face)
        self.session.rendered.connect(self._rendered)
        self.session.backendChanged.connect(self._backend_changed)
        self.session.saved.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 8000))
        self.session.failed.connect(self.show_error)
        self.session.noted.connect(lambda note: self.statusBar().showMessage(note, 15000))

        self.resize(1200, 800)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._update_recent_menu()
        keep_detail = self.settings.value("edit/keep_detail", True, type=bool)
        self.keep_detail_action.setChecked(keep_detail)
        self.session.set_blend("detail" if keep_detail else "replace")
        self._update_state()

    # actions and menus

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:  # noqa: ANN001
        return make_action(self, text, slot, shortcut, tip)

    def _create_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.open_action = self._action("&Open…", self._choose_photo, keys.Open, "Open a photo")
        self.sample_action = self._action(
            "Open &Sample Photo", self._open_sample, tip="A public-domain portrait"
        )
        self.export_action = self._action("&Export…", self._export, "Ctrl+E", "Save the edited photo")
        self.sweep_action = self._action(
            "Export S&weep…", self._export_sweep, "Ctrl+Shift+E", "One fader swept across its range"
        )
        self.batch_action = self._action(
            "Export &Batch…",
            self.show_batch_dialog,
            "Ctrl+Shift+B",
            "Apply the selected face's faders or a preset to many photos",
        )
        self.close_photo_action = self._action("&Close Photo", self.close_photo, keys.Close)
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.undo_action = self.history.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(keys.Undo))
        self.redo_action = self.history.createRedoAction(self, "&Redo")
        redo_keys = [QKeySequence("Ctrl+Shift+Z")]
        redo_keys += [k for k in QKeySequence.keyBindings(keys.Redo) if k not in redo_keys]
        self.redo_action.setShortcuts(redo_keys)
        self.reset_action = self._action("Reset &Faders of This Face", self.panel.reset_all.click, "Ctrl+R")
        self.next_face_action = self._action("&Next Face", self._next_face, "Ctrl+Tab")
        self.zoom_in_action = self._action(
            "Zoom &In", self.view.zoom_in, [QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")]
        )
        self.zoom_out_action = self._action("Zoom &Out", self.view.zoom_out, keys.ZoomOut)
        self.fit_action = self._action("&Fit to Window", self.view.fit, "Ctrl+0")
        self.actual_action = self._action("&Actual Size (100%)", lambda: self.view.set_zoom(1.0), "Ctrl+1")
        self.split_action = self._action(
            "&Split Before/After", self.view.set_split_view, "Ctrl+Y", "The original left of a line you drag"
        )
        self.split_action.setCheckable(True)
        self.outlines_action = self._action("Face &Outlines", self.view.set_outlines_visible, "Ctrl+L")
        self.outlines_action.setCheckable(True)
        self.outlines_action.setChecked(True)
        self.keep_detail_action = self._action(
            "Keep Photo &Detail",
            self.set_keep_detail,
            "Ctrl+D",
            "Add only the change to the photo, keeping its own detail (off: paste the model's decoded face)",
        )
        self.keep_detail_action.setCheckable(True)
        self.train_action = self._action(
            "&Train a Model…", self.show_train_dialog, "Ctrl+Shift+T", "Train or fine-tune a model on CelebA"
        )
        self.teach_action = self._action(
            "Teach a &New Fader…",
            self.show_teach_dialog,
            tip="Add a fader to a model from a folder of photos with the attribute and one without",
        )
        self.shortcuts_action = self._action("&Keyboard Shortcuts", self._shortcuts, keys.HelpContents)
        self.about_action = self._action("&About Fader Studio", self._about)

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.sample_action)
        file_menu.addSeparator()
        file_menu.addActions([self.export_action, self.sweep_action, self.batch_action])
        file_menu.addSeparator()
        file_menu.addActions([self.close_photo_action, self.quit_action])
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.reset_action, self.next_face_action])
        edit_menu.addSeparator()
        edit_menu.addActions(self.presets.menu_actions())
        edit_menu.addSeparator()
        mask_menu = edit_menu.addMenu("&Mask")
        mask_menu.addActions(self.mask_tools.menu_actions())
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_action])
        view_menu.addSeparator()
        view_menu.addActions([self.split_action, self.outlines_action])
        view_menu.addSeparator()
        view_menu.addAction(self.keep_detail_action)
        self.model_menu = ModelMenu(
            self.session,
            self.settings,
            self.open_model,
            lambda: self.model.path if self.model else None,
            self,
        )
        bar.addMenu(self.model_menu)
        tools_menu = bar.addMenu("&Tools")
        tools_menu.addActions([self.train_action, self.teach_action])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _create_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(120)
        self.progress.setVisible(False)
        self.busy_label = QLabel()
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("3200%") + 6)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.model_label = QLabel("No model")
        self.device_label = QLabel()
        bar.addWidget(self.busy_label)
        bar.addWidget(self.progress)
        for label in (self.zoom_label, self.model_label, self.device_label):
            bar.addPermanentWidget(label)
        bar.showMessage("Ready", 3000)

    def _update_state(self) -> None:
        """Enable what applies now and pick the central page."""
        faces = bool(self.photo and self.photo.faces)
        for action in (self.export_action, self.sweep_action, self.reset_action):
            action.setEnabled(faces)
        self.next_face_action.setEnabled(faces and len(self.photo.faces) > 1)
        self.batch_action.setEnabled(self.model is not None)
        self.close_photo_action.setEnabled(self.photo is not None)
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_action):
            action.setEnabled(self.photo is not None)
        self.presets.update_state()
        self.stack.setCurrentWidget(self.view if self.photo is not None else self.empty)
        if self.photo is None:
            self.zoom_label.clear()
        if self.model is None:
            self.empty.show_state(
                "No model open",
                "Fader Studio needs a model to change faces. Choose one in the Model menu, "
                "open a .fader model file, or train one on CelebA or on synthetic faces.",
                [
                    ("Open Model File…", self.model_menu.open_model_action),
                    ("Train a Model…", self.train_action),
                    ("Open a Photo…", self.open_action),
                ],
            )
        else:
            self.empty.show_state(
                "Open a photo to start",
                "Drop a photo here, press Ctrl+O, or try the sample portrait.",
                [("Open a Photo…", self.open_action), ("Open the Sample Portrait", self.sample_action)],
            )
        self.setWindowModified(bool(self.faces.edited_faces()))
        name = self.photo.path.name if self.photo else ""
        self.setWindowTitle(f"{name}[*] — Fader Studio" if name else "Fader Studio")

    # opening photos and models

    def open_photo(self, path: str | Path) -> None:
        """Open the photo at ``path`` (in the background)."""
        self.session.open_photo(Path(path))

    def open_model(self, path: str | Path) -> None:
        """Load the model at ``path`` (in the background); the open photo is encoded again with it."""
        self.session.open_model(Path(path))

    @Slot(bool)
    def set_keep_detail(self, on: bool) -> None:
        """Keep the photo's own detail (add only the change) or paste decoded faces; remembered."""
        self.settings.setValue("edit/keep_detail", on)
        self.keep_detail_action.setChecked(on)
        self.session.set_blend("detail" if on else "replace")
        self._render_edited_faces()
        self.statusBar().showMessage(
            "Keeping the photo's detail" if on else "Pasting the model's decoded faces", 4000
        )

    @Slot()
    def _choose_photo(self) -> None:
        folder = self.settings.value("folders/photos", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open Photo", folder, OPEN_PHOTO_FILTER)
        if path:
            self.settings.setValue("folders/photos", str(Path(path).parent))
            self.open_photo(path)

    @Slot()
    def _open_sample(self) -> None:
        self.open_photo(resources.path(resources.SAMPLE_PHOTO))

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_photo(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))

    def recent_files(self) -> list[str]:
        """Recently opened photos, newest first."""
        value = self.settings.value("recent/photos", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent/photos", recent[:MAX_RECENT])
        self._update_recent_menu()

    @Slot()
    def _clear_recent(self) -> None:
        self.settings.setValue("recent/photos", [])
        self._update_recent_menu()

    @Slot()
    def close_photo(self) -> None:
        """Close the open photo (the file was never changed)."""
        self.photo = None
        self.faces.reset([])
        self.view.set_photo(None)
        self.history.reset(0)
        self.mask_tools.reset([], 0)
        self.panel.set_faces(0)
        self._update_state()

    # drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        models = [f for f in files if f.suffix.lower() == ".fader"]
        photos = [f for f in files if f.suffix.lower() != ".fader"]
        if models:
            self.open_model(models[0])
        if photos:
            self.open_photo(photos[0])
        event.acceptProposedAction()

    # results from the session

    @Slot(float)
    def _zoomed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}" if self.photo is not None else "")
        self.session.set_view_scale(zoom * self.view.devicePixelRatioF())
        self._zoom_settled.start()

    @Slot()
    def _render_edited_faces(self) -> None:
        """Render the edited faces again (at the resolution the view now shows, in the blend now chosen)."""
        if self.photo is None or not self.photo.faces:
            return
        for face in self.faces.edited_faces():
            self.session.preview(face, self.faces.values(face))

    @Slot(str, str)
    def _backend_changed(self, device: str, problem: str) -> None:
        self.device_label.setText(device)
        self.device_label.setToolTip(problem)

    @Slot(str)
    def _busy(self, message: str) -> None:
        self.busy_label.setText(message)
        self.progress.setVisible(bool(message))

    @Slot(object)
    def _model_loaded(self, model: ModelInfo) -> None:
        self.model = model
        self.settings.setValue("model/path", str(model.path))
        self.model_label.setText(f"Model: {model.name} ({len(model.attributes)} attributes)")
        self.device_label.setText(model.device)
        self.device_label.setToolTip(model.backend_problem)
        self.panel.set_attributes(model.attributes)
        if self.photo is not None:
            self.panel.set_message("Finding faces with the new model…")
        self._update_state()

    @Slot(object)
    def _photo_loaded(self, photo: PhotoInfo) -> None:
        if self.photo is None or photo.image is not self.photo.image:  # not the same load re-encoded
            self.view.set_photo(photo.image)
        self.photo = photo
        self.view.set_faces([f.box for f in photo.faces])
        self.faces.reset([f.start for f in photo.faces])
        self.history.reset(len(photo.faces))
        self.mask_tools.reset([f.mask for f in photo.faces], max((f.box[2] for f in photo.faces), default=0))
        self.face = 0
        self.panel.set_faces(len(photo.faces))
        if photo.faces:
            self.panel.set_message("")
            self._show_face()
        elif self.model is None:
            self.panel.set_message("Open a model to edit the faces in this photo.")
        self._remember(photo.path)
        self._update_state()
        count = len(photo.faces)
        if count:
            note = f" Note: {photo.regions_note}." if photo.regions_note else ""
            self.statusBar().showMessage(
                f"{photo.path.name}: {photo.size[0]}×{photo.size[1]}, "
                f"{count} face{'s' * (count != 1)}. Hold \\ to see the original.{note}",
                15000 if note else 8000,
            )

    @Slot(object, str, bool)
    def _no_face(self, photo: PhotoInfo, message: str, whole_possible: bool) -> None:
        self._photo_loaded(photo)
        hint = (
            " It is the size of an aligned CelebA face: you can edit it as a whole." if whole_possible else ""
        )
        self.panel.set_message(message + hint, whole_button=whole_possible)

    @Slot()
    def _edit_whole_image(self) -> None:
        if self.photo is not None:
            self.session.open_photo(self.photo.path, whole_image=True)

    @Slot(int, object, QImage)
    def _rendered(self, face: int, rect: tuple[float, float, float, float], image: QImage) -> None:
        self.view.set_region(face, rect, None if image.isNull() else image)

    @Slot(str, str)
    def show_error(self, doing: str, message: str) -> None:
        """Tell the user what failed, in a dialog that does not block; the window stays usable."""
        self.statusBar().showMessage(f"{doing} failed: {message}", 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Fader Studio", f"{doing} failed.", parent=self)
        box.setInformativeText(message)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box

    # faces and faders

    @Slot(int)
    def select_face(self, index: int) -> None:
        """Make face ``index`` the one the faders change."""
        if self.photo is None or not 0 <= index < len(self.photo.faces):
            return
        self.face = index
        self._show_face()

    def _show_face(self) -> None:
        self.view.select_face(self.face)
        self.mask_tools.select(self.face)
        self.panel.set_faces(len(self.photo.faces), self.face)
        self.panel.show_values(self.faces.values(self.face), self.faces.start(self.face))
        self.history.select(self.face)

    @Slot()
    def _next_face(self) -> None:
        if self.photo and self.photo.faces:
            self.select_face((self.face + 1) % len(self.photo.faces))

    @Slot(str, float)
    def _previewed(self, name: str, value: float) -> None:
        if self.photo is None or not self.photo.faces:
            return
        self.faces.set(self.face, {name: value}, shown=True)
        self.session.preview(self.face, self.faces.values(self.face))

    @Slot(dict, dict)
    def _committed(self, old: dict, new: dict) -> None:
        if self.photo is None or not self.photo.faces:
            return
        self.history.record(self.face, old, new)
        self._update_state()

    def _current_face(self) -> tuple[str, dict[str, float], dict[str, float]] | None:
        """The model's name, the selected face's faders and its own values (``None``: no face open)."""
        if self.photo is None or not self.photo.faces or self.model is None:
            return None
        return self.model.name, self.faces.values(self.face), self.faces.start(self.face)

    @Slot(object, bool)
    def apply_preset(self, preset: Preset, all_faces: bool = False) -> tuple[str, ...]:
        """Apply ``preset`` to the selected face (or every face), one undoable change per face.

        Returns the preset's attributes that the model has not (applied without them, and said).
        """
        if self._current_face() is None or self.model is None:
            return ()
        faces = range(len(self.photo.faces)) if all_faces else [self.face]
        skipped: tuple[str, ...] = ()
        for face in faces:
            applied = preset.apply(self.model.attributes, self.faces.start(face))
            skipped = applied.skipped
            old = self.faces.values(face)
            new = {name: value for name, value in applied.values.items() if value != old.get(name)}
            if new:
                self.history.record(face, {n: old[n] for n in new}, new, f"Preset {preset.name}", shown=False)
        where = f"all {len(faces)} faces" if all_faces and len(faces) > 1 else "the face"
        note = f"; this model has no {', '.join(skipped)}, applied without it" if skipped else ""
        self.statusBar().showMessage(f"Applied the preset “{preset.name}” to {where}{note}", 10000)
        return skipped

    @Slot(int)
    def _face_changed(self, face: int) -> None:
        """Show face ``face``'s new values (an undo, a redo, a preset) and render it."""
        if face == self.face:
            self.panel.show_values(self.faces.values(face))
        self.session.preview(face, self.faces.values(face))
        self._update_state()

    # export

    @Slot()
    def _export(self) -> None:
        if self.photo is None or not self.photo.faces:
            return
        quality = int(self.settings.value("export/quality", JPEG_QUALITY))
        dialog = ExportDialog(edited_name(self.photo.path), quality, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.settings.setValue("export/quality", dialog.quality.value())
            self.export_to(dialog.path(), dialog.quality.value())

    def export_to(self, path: str | Path, quality: int = JPEG_QUALITY, *, confirm: bool = True) -> bool:
        """Write the edited photo to ``path`` in the background; ``False`` if refused or cancelled."""
        path = Path(path)
        if self.photo is None or not self.photo.faces:
            return False
        try:
            export_format(path, self.photo.path)  # refused before asking whether to replace it
        except ImageError as e:
            self.show_error("Exporting", str(e))
            return False
        if confirm and path.exists():
            answer = QMessageBox.question(self, "Replace File?", f"{path.name} already exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self.session.export(path, self.faces.all_values(), quality)
        return True

    @Slot()
    def _export_sweep(self) -> None:
        if self.photo is None or not self.photo.faces or self.model is None:
            return
        suggestion = self.photo.path.with_name(f"{self.photo.path.stem}-sweep.gif")
        dialog = SweepDialog(suggestion, self.model.attributes, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.export_sweep_to(dialog.path(), dialog.attribute.currentData(), dialog.steps.value())

    def export_sweep_to(self, path: str | Path, name: str, steps: int = 7) -> None:
        """Write a sweep of attribute ``name`` of the selected face to ``path`` (.gif or a strip)."""
        self.session.export_sweep(Path(path), self.face, self.faces.values(self.face), name, steps)

    @Slot()
    def show_batch_dialog(self) -> BatchDialog | None:
        """File → Export Batch: the selected face's look or a preset applied to many photos."""
        from .batch_dialog import BatchDialog

        if self.model is None:
            return None
        folder = self.photo.path.parent if self.photo is not None else None
        dialog = BatchDialog(self.session, self.settings, self._current_face, folder, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # help

    @Slot()
    def show_train_dialog(self) -> TrainDialog:
        """Tools → Train: the one Train dialog, showing the run it watches, or a run training now."""
        from .train_dialog import TrainDialog  # pyqtgraph loads when it is first needed

        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self.settings, self)
            self.train_dialog.openModel.connect(self._open_trained)
            self.train_dialog.modelInstalled.connect(
                lambda path: self.statusBar().showMessage(
                    f"Installed the trained model {Path(path).stem}", 8000
                )
            )
            running = [r for r in self.train_dialog.setup.runs.runs if r.state == "running"]
            if running:
                self.train_dialog.watch_run(running[0])
        self.train_dialog.show()
        self.train_dialog.raise_()
        self.train_dialog.activateWindow()
        return self.train_dialog

    @Slot()
    def show_teach_dialog(self) -> TrainDialog:
        """Tools → Teach a New Fader: the Train dialog's teach tab, with the open model chosen."""
        dialog = self.show_train_dialog()
        dialog.show_teaching(None if self.model is None else self.model.path)
        return dialog

    @Slot(str)
    def _open_trained(self, path: str) -> None:
        self.open_model(path)
        self.raise_()
        self.activateWindow()

    @Slot()
    def _shortcuts(self) -> None:
        rows = [
            ("Ctrl+O", "open a photo (or drop one on the window)"),
            ("Ctrl+E / Ctrl+Shift+E", "export the photo / a sweep"),
            ("Ctrl+Shift+B", "export a batch: this look or a preset on many photos"),
            ("Ctrl+Shift+P", "save the faders as a preset"),
            ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo the selected face's last change"),
            ("Hold \\", "show the original"),
            ("Ctrl+Y", "split before/after"),
            ("Ctrl+D", "keep the photo's detail, or paste the model's decoded face"),
            ("B / E, then drag", "paint / erase where the selected face's edit applies (B or E again: pan)"),
            ("[ / ]", "smaller / larger brush"),
            ("Shift+[ / Shift+]", "softer / harder brush"),
            ("M", "show the selected face's mask"),
            ("Ctrl+Tab, or click a face", "select another face"),
            ("Double-click a fader", "reset it"),
            ("Wheel, Ctrl+ / Ctrl−, Ctrl+0, Ctrl+1", "zoom, fit, 100%"),
            ("Drag the photo", "pan"),
        ]
        table = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        box = QMessageBox(
            QMessageBox.Icon.NoIcon, "Keyboard Shortcuts", f"<table>{table}</table>", parent=self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    @Slot()
    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Fader Studio",
            f"<b>Fader Studio {__version__}</b><p>Change attributes of faces in photos with "
            "faders, using Fader Networks (Lample et al., NeurIPS 2017). Everything runs "
            "on this computer; nothing is sent anywhere.</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.train_dialog is not None and not self.train_dialog.may_quit():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()
        self.session.close()
        super().closeEvent(event)
