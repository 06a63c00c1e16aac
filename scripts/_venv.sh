# Sourced by the scripts: releasegate's virtual environment (.venv, made by scripts/setup) comes
# first on PATH, so `python3`, `pytest`, `ruff`, `mypy` and `locust` are the ones it installed.
if [ -x .venv/bin/python ]; then
  VIRTUAL_ENV="$PWD/.venv"
  PATH="$VIRTUAL_ENV/bin:$PATH"
  export VIRTUAL_ENV PATH
fi
