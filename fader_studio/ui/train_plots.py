"""Live curves of a training run (pyqtgraph): the losses, λ_E and the validation metrics."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

#: How each loss of a ``step`` event is drawn: label and colour.
LOSSES = {
    "recon": ("reconstruction (MSE)", "#1f77b4"),
    "latent_dis": ("latent discriminator", "#d62728"),
    "adversarial": ("adversarial (encoder)", "#ff7f0e"),
    "patch_dis": ("patch discriminator", "#9467bd"),
    "patch_adv": ("patch adversarial", "#8c564b"),
    "classifier": ("classifier on edits", "#2ca02c"),
}
METRICS_TITLE = "Swap accuracy on validation images"
#: Colours of the attributes' swap-accuracy curves, in turn.
ATTRIBUTE_COLOURS = ("#2ca02c", "#17becf", "#e377c2", "#bcbd22", "#7f7f7f", "#9467bd")


class _LogAxis(pg.AxisItem):
    """A log axis labelled at 1, 2 and 5 times each power of ten (pyqtgraph's labels every tenth collide)."""

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:  # noqa: N802, N803
        values = [k + math.log10(m) for k in range(math.floor(minVal), math.ceil(maxVal)) for m in (1, 2, 5)]
        return [(None, [v for v in values if minVal <= v <= maxVal])]


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Four plots fed with progress events: reconstruction, the adversarial pair, λ_E, evaluations."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumSize(480, 320)
        self.recon = self._plot(0, 0, "Reconstruction loss", log=True)
        self.adversary = self._plot(0, 1, "Discriminator and adversarial losses")
        self.lambda_plot = self._plot(1, 0, "λ_E (adversarial weight)")
        self.metrics = self._plot(1, 1, METRICS_TITLE)
        self.metrics.setYRange(0, 1)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[list[float], list[float]]] = {}

    def _plot(self, row: int, column: int, title: str, *, log: bool = False) -> pg.PlotItem:
        axes = {"left": _LogAxis("left")} if log else None
        plot = self.addPlot(row=row, col=column, title=title, axisItems=axes)
        plot.setLabel("bottom", "step")
        plot.setLogMode(y=log)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.addLegend(offset=(-5, 5), labelTextSize="8pt", labelTextColor="#222222", brush="#ffffffc0")
        return plot

    def _add(self, key: str, plot: pg.PlotItem, label: str, colour: str, x: float, y: float) -> None:
        if key not in self.curves:
            # evaluations are few: dots show each (and the first, before there is a line)
            dots = {"symbol": "o", "symbolSize": 6, "symbolBrush": colour, "symbolPen": None}
            style = dots if plot is self.metrics else {}
            self.curves[key] = plot.plot(name=label, pen=pg.mkPen(colour, width=2), **style)
            self.data[key] = ([], [])
        xs, ys = self.data[key]
        if xs and x <= xs[-1]:  # a resumed run goes back to its checkpoint: drop what it redoes
            keep = next(i for i, v in enumerate(xs) if v >= x)
            del xs[keep:], ys[keep:]
        xs.append(x)
        ys.append(y)
        self.curves[key].setData(xs, ys)

    def add_event(self, event: dict) -> None:
        """Draw what a ``step`` or ``eval`` event measured (other events are ignored)."""
        step = event.get("step")
        if not isinstance(step, int):
            return
        if event.get("event") == "step":
            for name, value in event.get("losses", {}).items():
                label, colour = LOSSES.get(name, (name, "#000000"))
                plot = self.recon if name == "recon" else self.adversary
                if isinstance(value, (int, float)) and (name != "recon" or value > 0):
                    self._add(f"loss/{name}", plot, label, colour, step, value)
            if isinstance(event.get("lambda"), (int, float)):
                self._add("lambda", self.lambda_plot, "λ_E", "#444444", step, event["lambda"])
        elif event.get("event") == "eval":
            if isinstance(event.get("psnr_db"), (int, float)):
                self.metrics.setTitle(f"{METRICS_TITLE} (reconstruction {event['psnr_db']:.1f} dB)")
            swaps = event.get("swap_accuracy") or {}
            for i, (name, value) in enumerate(swaps.items()):
                colour = ATTRIBUTE_COLOURS[i % len(ATTRIBUTE_COLOURS)]
                self._add(f"swap/{name}", self.metrics, name, colour, step, value)

    def clear_all(self) -> None:
        """Forget every curve (a new run)."""
        for plot in (self.recon, self.adversary, self.lambda_plot, self.metrics):
            plot.clear()
            if plot.legend is not None:
                plot.legend.clear()
        self.metrics.setTitle(METRICS_TITLE)
        self.curves.clear()
        self.data.clear()
