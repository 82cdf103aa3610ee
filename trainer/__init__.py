"""The Fader Networks trainer behind ``fader-train`` (never imports Qt)."""
