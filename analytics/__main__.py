"""``python -m analytics`` is ``gpu-analytics``."""

import sys

from analytics.cli import main

sys.exit(main())
