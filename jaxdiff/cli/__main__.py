"""``python -m jaxdiff.cli``: the ``jaxdiff`` command."""

import sys

from jaxdiff.cli import main

sys.exit(main())
