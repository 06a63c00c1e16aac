"""Kayenta's test vectors: the sample arrays of its Scala suites, copied into data/kayenta_vectors.json
(``data/extract_kayenta_vectors.py`` regenerates the file from a clone of spinnaker/kayenta).
The expected values sit in the tests, beside the name of the Kayenta test they come from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

VECTORS = json.loads((Path(__file__).parent / "data" / "kayenta_vectors.json").read_text(encoding="utf-8"))

Vectors = Callable[[str, str], dict[str, NDArray[np.float64]]]


def vectors(suite: str, test: str) -> dict[str, NDArray[np.float64]]:
    """The arrays of Kayenta's ``test("<test>")`` in ``<suite>.scala``, by their Scala names."""
    arrays = VECTORS["suites"][f"{suite}.scala"]["tests"][test]
    return {name: np.asarray(values, dtype=np.float64) for name, values in arrays.items()}


@pytest.fixture
def kayenta() -> Vectors:
    return vectors
