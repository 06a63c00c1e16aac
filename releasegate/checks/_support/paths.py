"""Where releasegate's own files are: the package, and the checkout it runs from."""

from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The ``releasegate`` package folder."""

REPO_ROOT = PACKAGE_ROOT.parent
"""The folder that holds the package: this repository's checkout when run from source."""
