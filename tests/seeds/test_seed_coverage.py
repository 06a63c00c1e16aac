"""docs/seed-coverage.md and features/examples/ stay in sync, and every example feature collects.

The map's rows name a feature file, a scenario and either a step phrase (in backticks) or
"@manual: reason". The map tests read the files only; the collection tests run pytest on each
example feature with its runbook, as a user would (the collection plugin validates every step and
tag at collection time).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd.feature import get_feature
from pytest_bdd.parser import Feature

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "features" / "examples"
COVERAGE = ROOT / "docs" / "seed-coverage.md"
SEEDS = ROOT / "docs" / "seeds"
RUNBOOKS = ROOT / "runbooks"
STAGE_TAGS = {"preflight", "backup", "migrate", "deploy", "smoke", "slo", "load", "post-rollback"}
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Row:
    line_number: int
    seed: str
    section: str
    line: str
    feature: str
    scenario: str
    checked_by: str

    @property
    def step(self) -> str | None:
        text = self.checked_by.strip()
        return text[1:-1] if text.startswith("`") and text.endswith("`") else None

    @property
    def manual(self) -> bool:
        return self.checked_by.startswith("@manual:")

    def where(self) -> str:
        return f"docs/seed-coverage.md:{self.line_number} ({self.seed} {self.line!r})"


def _cells(line: str) -> list[str]:
    parts = _CELL_SPLIT.split(line.strip())
    return [p.strip().replace("\\|", "|") for p in parts[1:-1]]


def coverage_rows() -> list[Row]:
    rows = []
    for number, text in enumerate(COVERAGE.read_text(encoding="utf-8").splitlines(), start=1):
        if not re.match(r"^\|\s*\d{3}\s*\|", text):
            continue
        cells = _cells(text)
        assert len(cells) == 6, f"docs/seed-coverage.md:{number}: expected 6 cells, got {len(cells)}: {cells}"
        rows.append(Row(number, *cells))
    return rows


def example_features() -> dict[str, Feature]:
    return {path.name: get_feature(str(EXAMPLES), path.name) for path in sorted(EXAMPLES.glob("*.feature"))}


def runbook_for(feature_name: str) -> str:
    number = feature_name[:3]
    found = sorted(RUNBOOKS.glob(f"seed-{number}-*.yaml"))
    assert len(found) == 1, f"{feature_name}: expected one runbooks/seed-{number}-*.yaml, found {found}"
    return found[0].stem


def seed_checklist_lines(seed_file: Path) -> list[str]:
    return [line.split("- [ ]", 1)[1].strip() for line in seed_file.read_text(encoding="utf-8").splitlines()
            if "- [ ]" in line]


# --- the map -------------------------------------------------------------------------------------

def test_map_has_rows_for_all_five_seeds() -> None:
    seeds = {row.seed for row in coverage_rows()}
    assert seeds == {"000", "001", "002", "003", "004"}


def test_map_cites_existing_scenarios_and_steps() -> None:
    features = example_features()
    problems = []
    for row in coverage_rows():
        feature = features.get(row.feature)
        if feature is None:
            problems.append(f"{row.where()}: no feature file features/examples/{row.feature}")
            continue
        scenario = feature.scenarios.get(row.scenario)
        if scenario is None:
            problems.append(f"{row.where()}: {row.feature} has no scenario {row.scenario!r}")
            continue
        if row.step is None and not row.manual:
            problems.append(f"{row.where()}: 'checked by' must be a `step phrase` or '@manual: reason'")
        elif row.step is not None and row.step not in [step.name for step in scenario.steps]:
            problems.append(f"{row.where()}: scenario {row.scenario!r} of {row.feature} has no step {row.step!r}")
    assert not problems, "\n".join(problems)


def test_map_manual_rows_name_manual_scenarios_with_a_reason() -> None:
    features = example_features()
    problems = []
    for row in coverage_rows():
        if not row.manual:
            continue
        scenario = features[row.feature].scenarios.get(row.scenario)
        if scenario is None or "manual" not in scenario.tags:
            problems.append(f"{row.where()}: {row.scenario!r} is not a @manual scenario of {row.feature}")
        if len(row.checked_by.removeprefix("@manual:").strip()) < 8:
            problems.append(f"{row.where()}: a @manual row needs the reason no machine can check the line")
    assert not problems, "\n".join(problems)


def test_map_cites_every_example_scenario() -> None:
    cited = {(row.feature, row.scenario) for row in coverage_rows()}
    missing = [f"{name}: {scenario!r}" for name, feature in example_features().items()
               for scenario in feature.scenarios if (name, scenario) not in cited]
    assert not missing, "scenarios of features/examples/ not cited in docs/seed-coverage.md:\n" + "\n".join(missing)


@pytest.mark.parametrize("seed", ["000", "001", "002", "003", "004"])
def test_map_has_a_row_for_every_checklist_line_of_the_seed(seed: str) -> None:
    lines = seed_checklist_lines(SEEDS / f"{seed}.txt")
    assert lines, f"docs/seeds/{seed}.txt has no checklist line"
    mapped = {row.line for row in coverage_rows() if row.seed == seed}
    missing = [line for line in lines if line not in mapped]
    assert not missing, f"checklist lines of seed {seed} missing from docs/seed-coverage.md: {missing}"


def test_map_example_scenarios_are_tagged_by_stage_or_manual() -> None:
    untagged = [f"{name}: {scenario.name!r}" for name, feature in example_features().items()
                for scenario in feature.scenarios.values()
                if not (scenario.tags & STAGE_TAGS or "manual" in scenario.tags)]
    assert not untagged, "scenarios without a stage tag or @manual:\n" + "\n".join(untagged)


def test_map_manual_scenarios_wait_for_a_confirmation() -> None:
    wrong = [f"{name}: {scenario.name!r}" for name, feature in example_features().items()
             for scenario in feature.scenarios.values() if "manual" in scenario.tags
             and [step.name for step in scenario.steps] != ["a person has confirmed this item"]]
    assert not wrong, "@manual scenarios must consist of 'a person has confirmed this item':\n" + "\n".join(wrong)


def test_map_every_seed_has_a_runbook_and_a_feature() -> None:
    names = example_features()
    for seed in ("000", "001", "002", "003", "004"):
        assert any(name.startswith(seed) for name in names), f"no features/examples/{seed}_*.feature"
        runbook_for(f"{seed}_")


# --- collection with the real project ------------------------------------------------------------

@pytest.mark.parametrize("feature", sorted(p.name for p in EXAMPLES.glob("*.feature")))
def test_example_feature_collects_cleanly_with_its_runbook(feature: str, tmp_path: Path) -> None:
    env = runbook_for(feature)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"features/examples/{feature}", "--collect-only", "-q", "--env", env,
         "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**_environ(), "SEED_WEBHOOK_URL": "http://127.0.0.1:9/unused"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"collection of {feature} --env {env} failed:\n{output[-3000:]}"
    scenarios = len(get_feature(str(EXAMPLES), feature).scenarios)
    assert re.search(rf"\b{scenarios} tests? collected", output), output[-2000:]


def test_a_misspelt_step_in_an_example_fails_collection(tmp_path: Path) -> None:
    """The collection test above can fail: a copy of an example with one wrong step does not collect."""
    folder = ROOT / "reports" / f"seed-collection-{tmp_path.name}"  # inside the project: its conftest applies
    folder.mkdir(parents=True, exist_ok=True)
    broken = folder / "000_broken_copy.feature"
    text = (EXAMPLES / "000_snowmobile.feature").read_text(encoding="utf-8")
    broken.write_text(text.replace("succeeds", "succeds", 1), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(broken.relative_to(ROOT)), "--collect-only", "-q", "--env",
             "seed-000-snowmobile", "-p", "no:cacheprovider"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=_environ(),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode != 0
    assert "no step definition for" in done.stdout + done.stderr


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
