"""Fader Studio: change attributes of faces in photos with one fader per attribute."""

__version__ = "0.1.0"
