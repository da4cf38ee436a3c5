#!/usr/bin/env bash
# Set up FaceFill on a fresh machine: a virtual environment in .venv with
# everything the app needs; with --dev, also the test tools and Debian's
# Chromium for the browser test (never a browser download of Playwright's own).
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=requirements.txt
[[ "${1:-}" == "--dev" ]] && requirements=requirements-dev.txt

[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"

if [[ "$requirements" == requirements-dev.txt ]] && ! command -v chromium >/dev/null; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q chromium
fi
