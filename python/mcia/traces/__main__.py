"""``python -m mcia.traces``: regenerates the example trace set."""

import sys

from . import main

sys.exit(main())
