"""``python -m jaxdiff``: the ``jaxdiff`` command."""

import sys

from jaxdiff.cli import main

sys.exit(main())
