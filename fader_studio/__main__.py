"""``python -m fader_studio``: the same as the ``fader-studio`` command."""

import sys

from .cli import main

sys.exit(main())
