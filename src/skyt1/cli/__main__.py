"""``python -m skyt1.cli``: the same command line as the ``skyt1`` console script."""

import sys

from skyt1.cli import main

sys.exit(main())
