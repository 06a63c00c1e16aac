"""``releasegate judge CONTROL EXPERIMENT [--config FILE]``: Kayenta's judge on two exported series files.

A series file is CSV with a header row, one metric per column and one sample per row (an empty
cell or ``NaN`` is a missing sample), or JSON ``{"metric": [numbers or null, ...]}``. The optional
configuration (YAML or JSON) is a ``JudgeConfig``: ``pass``, ``marginal``, ``group_weights`` and
``metrics`` with their settings; without ``metrics`` every column is a metric with Kayenta's
defaults. The judgement is printed as JSON on stdout. Exit codes: 0 Pass, 1 Fail, 10 Marginal,
4 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml
from pydantic import BaseModel, ValidationError

from releasegate.checks import secrets
from releasegate.checks._support.files import load_yaml, read_text
from releasegate.checks.errors import ConfigError
from releasegate.checks.slo.judge import DEFAULT_GROUP, EffectSize, JudgeConfig, MetricConfig, Outliers, judge

EXIT_PASS, EXIT_FAIL, EXIT_MARGINAL, EXIT_BAD_INPUT = 0, 1, 10, 4
_EXIT = {"Pass": EXIT_PASS, "Fail": EXIT_FAIL, "Marginal": EXIT_MARGINAL}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity)|nan", re.IGNORECASE)

Series = dict[str, list[float]]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message}; usage: {self.prog} CONTROL EXPERIMENT [--config FILE]")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="releasegate judge", description=(
        "Judge an experiment (canary) against a control (baseline) offline, as Kayenta's NetflixACAJudge:"
        " exit 0 Pass, 1 Fail, 10 Marginal, 4 bad input."))
    parser.add_argument("control", type=Path, help="the control's (baseline's) series: CSV or JSON")
    parser.add_argument("experiment", type=Path, help="the experiment's (canary's) series: CSV or JSON")
    parser.add_argument("--config", type=Path, help="the judge's configuration: YAML or JSON")
    try:
        args = parser.parse_args(argv)
        config = load_config(args.config) if args.config else JudgeConfig()
        control = read_series(args.control, "control series")
        experiment = read_series(args.experiment, "experiment series")
        config = _metrics_for(config, args, control, experiment)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    judgement = judge(config, control, experiment)
    print(json.dumps(judgement.to_dict(), indent=2, allow_nan=False))
    return _EXIT[judgement.classification]


def _metrics_for(config: JudgeConfig, args: argparse.Namespace, control: Series, experiment: Series) -> JudgeConfig:
    """The configuration with its metrics; each must be a column of both files."""
    files = ((args.control, control), (args.experiment, experiment))
    if config.metrics:
        for path, series in files:
            for metric in config.metrics:
                if metric.name not in series:
                    raise ConfigError(f"{path}: no column {metric.name!r} for the metric of {args.config};"
                                      f" columns: {', '.join(series) or 'none'}")
        return config
    names = list(dict.fromkeys([*control, *experiment]))
    for path, series in files:
        missing = [name for name in names if name not in series]
        if missing:
            raise ConfigError(f"{path}: no column {missing[0]!r}, which the other file has; give both files the"
                              " same metrics, or list the metrics to judge in --config")
    try:
        return config.with_metrics(names)
    except ValidationError as exc:  # group_weights for groups the default metrics are not in
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{args.config}: {message} (every column is a metric of the group"
                          f" {DEFAULT_GROUP!r} when the configuration lists no metrics)") from None


def read_series(path: Path, what: str) -> Series:
    """The samples of every metric in a CSV or JSON series file; ``ConfigError`` (one line) when it is bad."""
    text = read_text(path, what).removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write
    if path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and text.lstrip().startswith("{")):
        return _read_json(text, path)
    return _read_csv(text, path)


def _read_json(text: str, path: Path) -> Series:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{path}: JSON nested too deeply; a series file is {{\"metric\": [numbers]}}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of metric names to lists of numbers,"
                          f" got {type(data).__name__}")
    series: Series = {}
    for name, values in data.items():
        if not name.strip():
            raise ConfigError(f"{path}: a metric has an empty name; name every metric")
        if not isinstance(values, list):
            raise ConfigError(f"{path}: metric {name!r}: expected a list of numbers, got {type(values).__name__}")
        samples = []
        for index, value in enumerate(values, start=1):
            if value is None:
                samples.append(math.nan)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                samples.append(float(value))
            else:
                raise ConfigError(f"{path}: metric {name!r}, item {index}: {_shown(value)} is not a number;"
                                  " write a number, or null for a missing sample")
        series[name] = samples
    return series


def _read_csv(text: str, path: Path) -> Series:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise ConfigError(f"{path}: the file is empty; a CSV series file starts with a header row of metric names")
        names = [name.strip() for name in header]
        for column, name in enumerate(names, start=1):
            if not name:
                raise ConfigError(f"{path}:{reader.line_num}: column {column} of the header has no name;"
                                  " name every column")
            if names.index(name) != column - 1:
                raise ConfigError(f"{path}:{reader.line_num}: column {column}: {name!r} is also column"
                                  f" {names.index(name) + 1}; name each metric once")
        series: Series = {name: [] for name in names}
        row_number = 0
        for row in reader:
            if not row:
                continue
            row_number += 1
            if len(row) != len(names):
                raise ConfigError(f"{path}:{reader.line_num}: row {row_number} has {len(row)} cells, the header"
                                  f" has {len(names)}; leave a cell empty for a missing sample")
            for column, (name, cell) in enumerate(zip(names, row, strict=True), start=1):
                series[name].append(_number(cell, path, reader.line_num, row_number, column, name))
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
    return series


def _number(cell: str, path: Path, line: int, row: int, column: int, name: str) -> float:
    value = cell.strip()
    if not value:
        return math.nan
    if not _NUMBER.fullmatch(value):
        raise ConfigError(f"{path}:{line}: row {row}, column {column} ({name!r}): {_shown(value)} is not a number;"
                          " write a number, or leave the cell empty for a missing sample")
    return float(value)


def _shown(value: object) -> str:
    text = repr(value)
    return secrets.redact(text if len(text) <= 40 else text[:37] + "...")


def load_config(path: Path) -> JudgeConfig:
    """The judge configuration in a YAML or JSON file; ``ConfigError`` naming file, line and field."""
    data, node = load_yaml(read_text(path, "judge configuration"), path)
    if data is None:
        return JudgeConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of judge settings (pass, marginal, group_weights, metrics)")
    try:
        return JudgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_schema_message(exc, path, _lines(node))) from None


Where = tuple[str | int, ...]


def _lines(node: yaml.Node | None) -> dict[Where, int]:
    index: dict[Where, int] = {}

    def walk(n: yaml.Node, where: Where) -> None:
        index.setdefault(where, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                index[(*where, str(key.value))] = key.start_mark.line + 1
                walk(value, (*where, str(key.value)))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*where, i))

    if node is not None:
        walk(node, ())
    return index


def _model_at(where: Where) -> type[BaseModel] | None:
    shape = tuple("#" if isinstance(part, int) else part for part in where)
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): JudgeConfig, ("metrics", "#"): MetricConfig, ("metrics", "#", "outliers"): Outliers,
        ("metrics", "#", "effect_size"): EffectSize}
    return models.get(shape)


def _schema_message(exc: ValidationError, path: Path, lines: dict[Where, int]) -> str:
    error = exc.errors()[0]
    where: Where = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(where))
    line = next((lines[where[:n]] for n in range(len(where), -1, -1) if where[:n] in lines), 1)
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(where[:-1])
        known = [info.alias or name for name, info in model.model_fields.items()] if model else []
        text = f"{field}: unknown key" + (f"; known: {', '.join(known)}" if known else "")
    elif kind == "missing":
        text = f"{field}: required key is missing"
    else:
        got: Any = error.get("input")
        text = f"{field or '(top level)'}: {str(error['msg']).removeprefix('Value error, ')}"
        if kind != "value_error" and not isinstance(got, (dict, list)):
            text += f" (got {_shown(got)})"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}:{line}: {text}{suffix}"


if __name__ == "__main__":
    raise SystemExit(main())
