"""Regenerate kayenta_vectors.json from Kayenta's own Scala test suites.

    git clone https://github.com/spinnaker/kayenta && python extract_kayenta_vectors.py kayenta

Every ``val NAME = Array(...)`` (and ``Array[Double](...)``) inside a ``test("...")`` block is copied
verbatim as numbers, keyed by suite file and test name. The expected values of each test (labels,
estimates, scores) are written beside the tests that use them, with the test's name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SUITES = [
    "kayenta-mannwhitney/src/test/scala/com/netflix/kayenta/mannwhitney/MannWhitneySuite.scala",
    "kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ClassifierSuite.scala",
    "kayenta-judge/src/test/scala/com/netflix/kayenta/judge/StatisticSuite.scala",
    "kayenta-judge/src/test/scala/com/netflix/kayenta/judge/DetectorSuite.scala",
    "kayenta-judge/src/test/scala/com/netflix/kayenta/judge/TransformSuite.scala",
]
_TEST = re.compile(r'test\("([^"]+)"\)\s*\{')
_ARRAY = re.compile(r"val\s+(\w+)\s*=\s*Array(?:\[Double\])?\(([^)]*)\)", re.S)


def _number(text: str) -> float:
    text = text.strip()
    return float("nan") if text == "Double.NaN" else float(text)


def extract(source: str) -> dict[str, dict[str, list[float]]]:
    tests: dict[str, dict[str, list[float]]] = {}
    starts = list(_TEST.finditer(source))
    for i, match in enumerate(starts):
        body = source[match.end(): starts[i + 1].start() if i + 1 < len(starts) else len(source)]
        arrays = {}
        for name, items in _ARRAY.findall(body):
            values = [item for item in items.split(",") if item.strip()]
            if all(re.fullmatch(r"\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?|Double\.NaN)\s*", v) for v in values):
                arrays[name] = [_number(v) for v in values]
        if arrays:
            tests[match.group(1)] = arrays
    return tests


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    out: dict[str, object] = {"source": "https://github.com/spinnaker/kayenta", "commit": commit, "suites": {}}
    for path in SUITES:
        text = subprocess.run(["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True,
                              check=True).stdout
        out["suites"][Path(path).name] = {"path": path, "tests": extract(text)}  # type: ignore[index]
    target = Path(__file__).with_name("kayenta_vectors.json")
    target.write_text(json.dumps(out, indent=1, allow_nan=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
