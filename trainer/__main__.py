"""``python -m trainer``: the same as ``fader-train``."""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
