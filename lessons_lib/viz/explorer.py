"""`FigureExplorer`: the one class every lesson's explorer is.

An explorer is three parts, and each lesson's module (`viz.attention`, `viz.norm`, ...) writes
them in this order:

1. `*_data(...)`: a plain function from the controls' values to numbers (a dict), which tests
   check against the package;
2. `*_view(data)`: a plain function that draws those numbers and returns the figure;
3. `*_explorer(...)`: a `FigureExplorer` of a `view(**values) -> (figure, data)` that joins the
   two, and named controls whose names are the view's arguments.

Tests and the browser test reach every explorer the same way: `explorer.controls[name]` is a
control (set its `.value` to move it), `explorer.result` is the data of the figure shown, and
`explorer.image.value` is that figure as PNG bytes.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt

View = Callable[..., tuple[plt.Figure, Any]]


class FigureExplorer(widgets.VBox):
    """Controls above a picture: each change calls `view(**values) -> (figure, data)` and redraws.

    Why this and not `widgets.interactive` (which lessons 01, 02 and 05 used before):
    - the controls have names (`explorer.controls["head"]`), not places (`explorer.children[0]`);
    - the view returns its figure and data instead of calling `plt.show()` for a side effect, so
      the picture (`image`) and the numbers (`result`) are there to test, and always agree;
    - the figure is rendered to PNG into an Image widget, not captured by an Output widget. With
      ipykernel 7, papermill runs of cells holding an Output widget were seen to hang now and
      then (ipykernel#1554; the course pins ipykernel below 7 and saw no hang in 25 runs of
      lessons 01-02 since): an Image widget keeps every explorer clear of that path;
    - errors the learner can cause (`shown_errors`, such as a ValueError for an unknown word)
      are shown in the widget (`message`); a `print` in a callback would go to JupyterLab's log
      console, where nobody looks.
    """

    def __init__(
        self,
        view: View,
        controls: Mapping[str, widgets.ValueWidget],
        dpi: int = 80,
        shown_errors: tuple[type[Exception], ...] = (),
    ):
        if not controls:
            raise ValueError("an explorer needs at least one control")
        for name, control in controls.items():
            if not isinstance(control, widgets.ValueWidget):
                raise ValueError(f"control {name!r} must be a widget with a value, got {type(control).__name__}")
        self.view = view
        self.controls = dict(controls)
        self.dpi = dpi
        self.shown_errors = tuple(shown_errors)
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        self.result = None
        super().__init__([widgets.HBox(list(self.controls.values())), self.message, self.image])
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name: the arguments the view is called with."""
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, change: dict | None = None) -> None:
        """Call the view with the controls' current values and show its figure (or its error)."""
        try:
            figure, result = self.view(**self.values())
        except self.shown_errors as error:
            self.result = None
            self.message.value = f"<b>{html.escape(str(error))}</b>"
            self.image.layout.display = "none"
            return
        self.result = result
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=self.dpi, bbox_inches="tight")
        plt.close(figure)
        self.image.value = png.getvalue()
        self.message.value = ""
        self.image.layout.display = None
