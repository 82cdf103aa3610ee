"""Whether this machine can show the editor's window, checked before Qt is started.

On Linux, Qt 6's X11 platform plugin needs a few system libraries that a bare
system may lack; without them Qt aborts the process with a long message that
does not say what to install. :func:`display_problem` finds that out first
(by loading each library, as Qt would) and says in one line what to install.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

#: The libraries Qt's xcb plugin loads, by the Debian/Ubuntu package that provides each.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
}


def missing_libraries(libraries: Mapping[str, str] = XCB_LIBRARIES) -> list[str]:
    """The packages of ``libraries`` (package → shared library) whose library cannot be loaded."""
    missing = []
    for package, library in libraries.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    return missing


def uses_xcb(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Qt will use its X11 (xcb) plugin: on Linux, unless another platform is chosen."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0] == "xcb"
    return environ.get("XDG_SESSION_TYPE") != "wayland" and not environ.get("WAYLAND_DISPLAY")


def display_problem(
    environ: Mapping[str, str] = os.environ, libraries: Mapping[str, str] = XCB_LIBRARIES
) -> str | None:
    """Why the editor's window cannot open here (one line), or ``None``."""
    if not uses_xcb(environ):
        return None
    missing = missing_libraries(libraries)
    if missing:
        return (
            f"the editor's window needs system libraries this machine lacks; install them with: "
            f"sudo apt-get install {' '.join(missing)} (or your system's packages of the same names)"
        )
    if not environ.get("DISPLAY"):
        return "no display to show the editor on (DISPLAY is not set); start it from a desktop session"
    return None
