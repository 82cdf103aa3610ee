"""The built app's entry point (``fader_studio.spec``): ``fader-studio`` with its commands and trainer."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the dataset cache's worker processes start this program again
    from fader_studio.cli import main

    sys.exit(main())
