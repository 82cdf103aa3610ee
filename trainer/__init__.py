"""The Fader Networks trainer behind ``fader-train`` (never imports Qt)."""

#: The trainer's program name: its console script, and ``fader-studio fader-train ARGS`` in a built app.
PROGRAM = "fader-train"
