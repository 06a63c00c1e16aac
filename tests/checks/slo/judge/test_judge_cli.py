"""``python -m releasegate.cli.judge``, run as a subprocess on real files: the JSON result, the exit
codes (0 Pass, 1 Fail, 10 Marginal, 4 bad input) and one line on stderr for bad input. The table
of bad inputs calls ``main()`` in this process (a subprocess costs seconds of scipy imports each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from releasegate.cli.judge import main

ROOT = Path(__file__).resolve().parents[4]

CONTROL = np.random.default_rng(7).normal(100.0, 5.0, 40)
SAME = np.random.default_rng(8).normal(100.0, 5.0, 40)
HIGHER = np.random.default_rng(9).normal(130.0, 5.0, 40)


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH: this checkout's releasegate, whatever the working folder
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "releasegate.cli.judge", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env=env, check=False)


def csv_file(path: Path, columns: dict[str, Any]) -> Path:
    names = list(columns)
    rows = zip(*(columns[name] for name in names), strict=True)
    path.write_text(",".join(names) + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_csv_fail_with_every_column_a_metric(tmp_path: Path) -> None:
    control = csv_file(tmp_path / "control.csv", {"latency": CONTROL, "errors": SAME})
    experiment = csv_file(tmp_path / "experiment.csv", {"latency": HIGHER, "errors": SAME[::-1]})
    result = run(control, experiment)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["classification"] == "Fail" and out["score"] == 50.0
    metrics = {m["name"]: m for m in out["metrics"]}
    assert metrics["latency"]["label"] == "High" and metrics["latency"]["direction"] == "either"
    assert metrics["errors"]["label"] == "Pass"
    low, high = metrics["latency"]["confidence_interval"]
    assert low < metrics["latency"]["estimate"] < high and 25 < metrics["latency"]["estimate"] < 35
    assert metrics["latency"]["control"]["count"] == 40 and metrics["latency"]["experiment"]["received"] == 40
    assert out["groups"] == [{"name": "default", "score": 50.0, "no_data": False, "weight": 100.0,
                              "label_counts": {"High": 1, "Pass": 1}}]


def test_json_pass_and_a_config(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"latency": CONTROL.tolist(), "errors": [1, None, 2, 3]}))
    (tmp_path / "e.json").write_text(json.dumps({"latency": SAME.tolist(), "errors": [1, 2, 3, None]}))
    (tmp_path / "judge.yaml").write_text(
        "pass: 90\nmarginal: 50\nmetrics:\n  - name: latency\n    direction: increase\n    groups: [perf]\n"
        "  - name: errors\n    critical: true\n    groups: errors\ngroup_weights:\n  perf: 70\n")
    result = run("c.json", "e.json", "--config", "judge.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["classification"] == "Pass" and out["score"] == 100.0
    assert out["thresholds"] == {"pass": 90.0, "marginal": 50.0}
    assert [(g["name"], g["weight"]) for g in out["groups"]] == [("perf", 70.0), ("errors", 30.0)]
    errors = next(m for m in out["metrics"] if m["name"] == "errors")
    assert errors["control"]["nan"] == 1 and errors["control"]["count"] == 3


def test_marginal_exits_10(tmp_path: Path) -> None:
    columns = {f"m{i}": CONTROL for i in range(4)}
    control = csv_file(tmp_path / "c.csv", columns)
    experiment = csv_file(tmp_path / "e.csv", {**{f"m{i}": SAME for i in range(3)}, "m3": HIGHER})
    result = run(control, experiment)
    assert result.returncode == 10, result.stderr
    assert json.loads(result.stdout)["classification"] == "Marginal" and json.loads(result.stdout)["score"] == 75.0


def test_empty_columns_are_nodata_and_fail(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("latency\n")
    (tmp_path / "e.csv").write_text("latency\n1\n2\n")
    result = run(tmp_path / "c.csv", tmp_path / "e.csv")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["metrics"][0]["label"] == "Nodata" and out["reason"].startswith("Canary Failed: 50% or more")


def test_an_infinite_sample_is_an_error_in_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.csv").write_text("a\n1\n2\n3\n")
    (tmp_path / "e.csv").write_text("a\n1\n2\ninf\n")
    assert main([str(tmp_path / "c.csv"), str(tmp_path / "e.csv")]) == 0  # Kayenta: an Error is not scored
    metric = json.loads(capsys.readouterr().out)["metrics"][0]
    assert metric["label"] == "Error" and metric["experiment"]["stats"]["max"] is None


@pytest.mark.parametrize(("files", "config", "expected"), [
    ({}, None, "{control}: control series does not exist"),
    ({"c.csv": "latency,errors\n1,2\n3,abc\n"}, None,
     "{control}:3: row 2, column 2 ('errors'): 'abc' is not a number; write a number, or leave the cell"
     " empty for a missing sample"),
    ({"c.csv": "latency\n1_000\n"}, None, "{control}:2: row 1, column 1 ('latency'): '1_000' is not a number"),
    ({"c.csv": "latency,errors\n1,2,3\n"}, None, "{control}:2: row 1 has 3 cells, the header has 2"),
    ({"c.csv": "a,a\n1,2\n"}, None, "{control}:1: column 2: 'a' is also column 1"),
    ({"c.csv": ""}, None, "{control}: the file is empty"),
    ({"c.json": '{"latency": [1, "2"]}'}, None, "{control}: metric 'latency', item 2: '2' is not a number"),
    ({"c.json": '{"latency": [1, true]}'}, None, "{control}: metric 'latency', item 2: True is not a number"),
    ({"c.json": '{"latency": [1,\n'}, None, "{control}:2:1: not valid JSON"),
    ({"c.json": "[1, 2]"}, None, "{control}: expected a JSON object of metric names to lists of numbers"),
    ({"c.csv": "other\n1\n"}, None, "{control}: no column 'latency', which the other file has"),
    ({}, "metrics:\n  - name: latency\n    directon: up\n", "{config}:3: metrics[0].directon: unknown key; known:"
     " name, query, direction, critical"),
    ({}, "pass: 90\nmarginal: 80\nmetrics:\n  - name: latency\n    direction: up\n",
     "{config}:5: metrics[0].direction: Input should be 'increase', 'decrease' or 'either' (got 'up')"),
    ({}, "metrics:\n  - name: latency\n    effect_size: {measure: cles, allowed_increse: 0.8}\n",
     "{config}:3: metrics[0].effect_size.allowed_increse: unknown key; known: measure, allowed_increase"),
    ({}, "pass: 70\nmarginal: 80\n", "{config}:1: (top level): marginal (80) is above pass (70)"),
    ({}, "colour: blue\n", "{config}:1: colour: unknown key; known: metrics, group_weights, pass, marginal"),
    ({}, "metrics:\n  - name: nope\n", "{control}: no column 'nope' for the metric of {config}"),
    ({}, "metrics: [\n", "{config}:2:1: YAML syntax error"),
    ({}, "group_weights: {errors: 50}\n", "{config}: group_weights names group 'errors', which no metric is in"),
    ({"c.json": '{"": [1]}'}, None, "{control}: a metric has an empty name"),
])
def test_bad_input_is_one_line_and_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          files: dict[str, str], config: str | None, expected: str) -> None:
    control = tmp_path / "c.csv"
    for name, text in files.items():
        control = tmp_path / name
        control.write_text(text, encoding="utf-8")
    experiment = csv_file(tmp_path / "e.csv", {"latency": SAME})
    args: list[str | Path] = [control, experiment]
    config_path = tmp_path / "judge.yaml"
    if config is not None:
        if not files:
            control = csv_file(tmp_path / "c.csv", {"latency": CONTROL})
            args[0] = control
        config_path.write_text(config, encoding="utf-8")
        args += ["--config", config_path]
    assert main([str(arg) for arg in args]) == 4
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert expected.format(control=control, config=config_path) in err


def test_a_missing_configuration_and_a_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.csv").write_text("\ufefflatency\n1\n2\n", encoding="utf-8")
    (tmp_path / "e.csv").write_text("latency\n2\n1\n", encoding="utf-8")
    assert main([str(tmp_path / "c.csv"), str(tmp_path / "e.csv"), "--config", str(tmp_path / "no.yaml")]) == 4
    assert capsys.readouterr().err == f"error: {tmp_path / 'no.yaml'}: judge configuration does not exist\n"
    assert main([str(tmp_path / "c.csv"), str(tmp_path / "e.csv")]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)["metrics"]] == ["latency"]


def test_a_bad_number_as_a_subprocess(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("latency\n1\nfast\n")
    line = one_error_line(run(tmp_path / "c.csv", csv_file(tmp_path / "e.csv", {"latency": SAME})))
    assert line == (f"error: {tmp_path / 'c.csv'}:3: row 2, column 1 ('latency'): 'fast' is not a number;"
                    " write a number, or leave the cell empty for a missing sample")


def test_usage_errors_exit_4(tmp_path: Path) -> None:
    line = one_error_line(run(tmp_path / "only-one.csv"))
    assert "the following arguments are required: experiment" in line and "usage: releasegate judge" in line
