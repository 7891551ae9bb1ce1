#!/usr/bin/env bash
# Create .venv (Python 3.11) and install Weimeng with its test extras, pinned by constraints.txt.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# pip and the build backend talk a lot (notices about this machine's index configuration, setuptools'
# editable-install warnings): keep it in .venv/install.log and show it only when the install fails.
log=.venv/install.log
if ! { .venv/bin/python -m pip install --quiet --upgrade "pip>=24" \
       && .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "installation failed; the full log is in $log" >&2
  exit 1
fi
echo "weimeng installed in .venv ($(.venv/bin/python --version))"
