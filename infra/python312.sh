#!/usr/bin/env sh
# Prints a Python 3.12 interpreter (the Lambda runtime's version), else python3 as a fallback.
for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
echo "warning: no Python 3.12 found; using python3 (sam build needs 3.12)" >&2
command -v python3
