"""The photo view: the photo with its edited faces on top, zoom, pan and before/after.

The photo is one pixmap; each edited face is a small pixmap of just the
face's region laid over it, so a fader move redraws only that region. A
region's pixmap may be at a lower resolution than the photo (as much as the
zoom shows): it is stretched over its rectangle of the photo. Holding
``\\`` (or the view's "Before" button) hides the edits; the split view shows
the original left of a line the user drags. Faces are outlined and numbered;
clicking one selects it. With a brush on (:meth:`PhotoView.set_brush`), a
left-button drag paints instead of panning: the view sends the dabs along the
stroke, and shows the brush's circle and the selected face's mask (a
translucent overlay).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
ZOOM_STEP = 1.25
BEFORE_KEY = Qt.Key.Key_Backslash
SELECTED, OTHER = QColor(255, 170, 40), QColor(255, 255, 255, 170)
#: Dabs along a brush stroke are this share of the brush's radius apart.
DAB_SPACING = 0.25


class FaceOverlay(QGraphicsPixmapItem):
    """A face's edited region, hidden left of the split line when the split view is on."""

    def __init__(self) -> None:
        super().__init__()
        self.split_x: float | None = None
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.setZValue(1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self.split_x is not None:
            left = (self.split_x - self.pos().x()) / self.transform().m11()
            rect = self.boundingRect()
            painter.setClipRect(QRectF(left, rect.y(), max(0.0, rect.right() - left), rect.height()))
        super().paint(painter, option, widget)


class FaceOutline(QGraphicsRectItem):
    """The outline and number of a detected face; clicking selects it."""

    def __init__(self, view: PhotoView, index: int, box: tuple[float, float, float, float]) -> None:
        super().__init__(QRectF(*box))
        self._view = view
        self.index = index
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.label = QGraphicsSimpleTextItem(str(index + 1), self)
        self.label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.label.setPos(box[0], box[1] + box[3])
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        """Draw the outline as the selected face or as another one."""
        colour = SELECTED if selected else OTHER
        pen = QPen(colour, 2.5 if selected else 1.5)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.label.setBrush(colour)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._view.faceClicked.emit(self.index)
            event.accept()
        else:
            super().mousePressEvent(event)


class SplitLine(QGraphicsRectItem):
    """The draggable line of the split view: the original on its left, the edit on its right."""

    def __init__(self, view: PhotoView) -> None:
        super().__init__()
        self._view = view
        self.setZValue(3)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        pen = QPen(QColor(255, 255, 255), 2)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(QColor(255, 255, 255, 60))

    def place(self, x: float, height: float) -> None:
        """Put the line at photo column ``x``."""
        width = 6 / max(self._view.zoom(), 1e-6)  # about 6 screen pixels wide, to grab
        self.setRect(QRectF(x - width / 2, 0, width, height))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self._view.set_split(event.scenePos().x())


class PhotoView(QGraphicsView):
    """Shows a photo and its edited face regions; zooms under the mouse and pans by dragging."""

    faceClicked = Signal(int)  # noqa: N815 (Qt naming)
    zoomChanged = Signal(float)  # noqa: N815
    #: A brush stroke began (before its first dabs).
    strokeStarted = Signal()  # noqa: N815
    #: Dabs of the brush along the stroke: a list of (x, y) photo pixels.
    brushed = Signal(list)
    #: The stroke ended (the button was released).
    strokeFinished = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._photo = QGraphicsPixmapItem()
        self._photo.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._photo)
        self._overlays: dict[int, FaceOverlay] = {}
        self._outlines: list[FaceOutline] = []
        self._split = SplitLine(self)
        self._split.setVisible(False)
        self.scene().addItem(self._split)
        self._split_x: float | None = None
        self._showing_original = False
        self._fit = True
        self._mask = QGraphicsPixmapItem()
        self._mask.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._mask.setZValue(1.5)
        self._mask.setVisible(False)
        self.scene().addItem(self._mask)
        self._brush_circle = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255), 1.5)
        pen.setCosmetic(True)
        self._brush_circle.setPen(pen)
        self._brush_circle.setZValue(4)
        self._brush_circle.setVisible(False)
        self.scene().addItem(self._brush_circle)
        self._brush: float | None = None  # the brush's radius in photo pixels, when painting
        self._last_dab: QPointF | None = None  # during a stroke

    # photo and faces

    def set_photo(self, image: QImage | None) -> None:
        """Show ``image`` (``None``: nothing), fitted to the view, with no faces."""
        self.set_faces([])
        self._photo.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.scene().setSceneRect(self._photo.boundingRect())
        if self._split_x is not None:
            self.set_split(self._photo.boundingRect().width() / 2)
        self.fit()

    def has_photo(self) -> bool:
        """Whether a photo is shown."""
        return not self._photo.pixmap().isNull()

    def set_faces(self, boxes: Sequence[tuple[float, float, float, float]], selected: int = 0) -> None:
        """Outline faces at ``boxes`` (x, y, w, h) and forget all edited regions."""
        for item in [*self._outlines, *self._overlays.values()]:
            self.scene().removeItem(item)
        self._overlays = {}
        self._mask.setVisible(False)
        self._outlines = [FaceOutline(self, i, box) for i, box in enumerate(boxes)]
        for outline in self._outlines:
            self.scene().addItem(outline)
        self.select_face(selected)

    def select_face(self, index: int) -> None:
        """Highlight face ``index``."""
        for outline in self._outlines:
            outline.set_selected(outline.index == index)

    def set_outlines_visible(self, visible: bool) -> None:
        """Show or hide the face outlines."""
        for outline in self._outlines:
            outline.setVisible(visible)

    def set_region(self, face: int, rect: Sequence[float], image: QImage | None) -> None:
        """Lay ``image`` over ``rect`` (x0, y0, x1, y1) of the photo as face ``face``'s edit.

        ``image`` may be smaller than ``rect`` (a preview at the view's resolution); ``None`` hides the edit.
        """
        overlay = self._overlays.get(face)
        if image is None:
            if overlay is not None:
                overlay.setVisible(False)
            return
        if overlay is None:
            overlay = self._overlays[face] = FaceOverlay()
            overlay.split_x = self._split_x
            self.scene().addItem(overlay)
        x0, y0, x1, y1 = rect
        overlay.setPixmap(QPixmap.fromImage(image))
        overlay.setPos(x0, y0)
        overlay.setTransform(QTransform.fromScale((x1 - x0) / image.width(), (y1 - y0) / image.height()))
        overlay.setVisible(not self._showing_original)

    def set_mask_overlay(self, rect: Sequence[float] | None, image: QImage | None = None) -> None:
        """Lay the translucent ``image`` of a face's mask over ``rect`` (x0, y0, x1, y1); ``None`` hides."""
        if rect is None or image is None or image.isNull():
            self._mask.setVisible(False)
            return
        x0, y0, x1, y1 = rect
        self._mask.setPixmap(QPixmap.fromImage(image))
        self._mask.setPos(x0, y0)
        self._mask.setTransform(QTransform.fromScale((x1 - x0) / image.width(), (y1 - y0) / image.height()))
        self._mask.setVisible(True)

    def mask_overlay_shown(self) -> bool:
        """Whether a mask overlay is shown."""
        return self._mask.isVisible()

    # the brush

    def set_brush(self, radius: float | None) -> None:
        """Paint with a brush of ``radius`` photo pixels on a left-button drag (``None``: drag pans)."""
        self._brush = radius
        painting = radius is not None
        self.setDragMode(QGraphicsView.DragMode.NoDrag if painting else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if painting else Qt.CursorShape.OpenHandCursor)
        self._brush_circle.setVisible(painting and self.underMouse())
        if painting:
            centre = self._brush_circle.rect().center()
            self._place_circle(centre)

    def _place_circle(self, centre: QPointF) -> None:
        radius = self._brush or 0.0
        self._brush_circle.setRect(QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._brush is None or event.button() != Qt.MouseButton.LeftButton or not self.has_photo():
            super().mousePressEvent(event)
            return
        point = self.mapToScene(event.position().toPoint())
        self._last_dab = point
        self.strokeStarted.emit()
        self.brushed.emit([(point.x(), point.y())])
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._brush is None:
            super().mouseMoveEvent(event)
            return
        point = self.mapToScene(event.position().toPoint())
        self._place_circle(point)
        self._brush_circle.setVisible(True)
        if self._last_dab is None:
            return
        step = max(DAB_SPACING * self._brush, 0.5)
        start = self._last_dab
        distance = math.hypot(point.x() - start.x(), point.y() - start.y())
        count = int(distance // step)
        if count:
            dabs = [start + (point - start) * (k * step / distance) for k in range(1, count + 1)]
            self._last_dab = dabs[-1]
            self.brushed.emit([(p.x(), p.y()) for p in dabs])
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last_dab is not None and event.button() == Qt.MouseButton.LeftButton:
            self._last_dab = None
            self.strokeFinished.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802, ANN001
        self._brush_circle.setVisible(False)
        super().leaveEvent(event)

    def shown_image(self) -> QImage:
        """What the photo looks like now, at full resolution (the photo with the visible edits).

        Edits previewed at a lower resolution are stretched (smoothly) over their regions.
        """
        pixmap = self._photo.pixmap()
        image = QImage(pixmap.size(), QImage.Format.Format_RGB32)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(0, 0, pixmap)
        for overlay in self._overlays.values():
            if overlay.isVisible():
                painter.drawPixmap(overlay.sceneBoundingRect(), overlay.pixmap(), overlay.boundingRect())
        painter.end()
        return image

    # before / after

    def show_original(self, original: bool) -> None:
        """Show the photo without edits (``True``) or with them."""
        self._showing_original = original
        for overlay in self._overlays.values():
            overlay.setVisible(not original and not overlay.pixmap().isNull())

    def set_split_view(self, on: bool) -> None:
        """Turn the split view (original left of a draggable line) on or off."""
        self._split.setVisible(on)
        self.set_split(self._photo.boundingRect().width() / 2 if on else None)

    def set_split(self, x: float | None) -> None:
        """Move the split line to photo column ``x`` (``None``: no split)."""
        width = self._photo.boundingRect().width()
        self._split_x = None if x is None else min(max(0.0, x), width)
        if self._split_x is not None:
            self._split.place(self._split_x, self._photo.boundingRect().height())
        for overlay in self._overlays.values():
            overlay.split_x = self._split_x
            overlay.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if event.key() == BEFORE_KEY and not event.isAutoRepeat():
            self.show_original(True)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == BEFORE_KEY and not event.isAutoRepeat():
            self.show_original(False)
        else:
            super().keyReleaseEvent(event)

    # zoom

    def zoom(self) -> float:
        """The current scale: view pixels per photo pixel."""
        return self.transform().m11()

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` (1 = 100%), clamped, keeping ``anchor`` (view point) in place."""
        scale = min(max(scale, MIN_ZOOM), MAX_ZOOM)
        factor = scale / self.zoom()
        if abs(factor - 1) < 1e-9:
            return
        self._fit = False
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        if self._split_x is not None:
            self.set_split(self._split_x)
        self.zoomChanged.emit(self.zoom())

    def zoom_in(self) -> None:
        """Zoom in one step around the view's centre."""
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom out one step around the view's centre."""
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def fit(self) -> None:
        """Show the whole photo (and keep fitting while the window is resized)."""
        self._fit = True
        if self.has_photo():
            self.fitInView(self._photo, Qt.AspectRatioMode.KeepAspectRatio)
            if self._split_x is not None:
                self.set_split(self._split_x)
        self.zoomChanged.emit(self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self.has_photo() and event.angleDelta().y():
            self.set_zoom(self.zoom() * 2 ** (event.angleDelta().y() / 480), event.position())
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        super().resizeEvent(event)
        if self._fit:
            self.fit()
