"""``python -m releasegate.cli``: the ``releasegate`` command without its console script."""

import sys

from releasegate.cli import main

sys.exit(main())
