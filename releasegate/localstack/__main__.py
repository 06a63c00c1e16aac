"""``python -m releasegate.localstack``: the local stack's command line (scripts/local-stack)."""

from __future__ import annotations

import sys

from releasegate.localstack.cli import main

sys.exit(main())
