"""The faces' values and their undo history, without a window: the commands change the values and say so."""

from __future__ import annotations

from fader_studio.ui.face_values import FaceValues
from fader_studio.ui.history import FaceHistory


def test_undo_and_redo_change_the_values_and_announce_the_face_a_drag_is_not_announced(qtbot) -> None:  # noqa: ANN001
    faces = FaceValues()
    history = FaceHistory(faces)
    faces.reset([{"Smiling": 0.2, "Male": 0.9}, {"Smiling": 0.7, "Male": 0.1}])
    history.reset(2)
    announced: list[int] = []
    faces.changed.connect(announced.append)

    faces.set(1, {"Smiling": 1.0}, shown=True)  # the user drags face 2's fader: the faders show it
    history.record(1, {"Smiling": 0.7}, {"Smiling": 1.0})
    assert announced == [] and faces.values(1) == {"Smiling": 1.0, "Male": 0.1}
    assert faces.edited_faces() == [1] and faces.start(1) == {"Smiling": 0.7, "Male": 0.1}

    history.select(1)
    history.undo()
    assert announced == [1] and faces.values(1) == faces.start(1) and faces.edited_faces() == []
    history.redo()
    assert announced == [1, 1] and faces.values(1)["Smiling"] == 1.0

    history.record(0, {"Male": 0.9}, {"Male": 0.0}, "Preset man", shown=False)  # a preset: applied now
    assert announced == [1, 1, 0] and faces.values(0) == {"Smiling": 0.2, "Male": 0.0}
    assert history.stack(0).undoText() == "Preset man" and faces.all_values()[1]["Smiling"] == 1.0

    faces.reset([])
    history.reset(0)
    assert len(faces) == 0 and faces.edited_faces() == []
