#!/usr/bin/env bash
# The browser tests drive Debian's chromium (never a downloaded browser). Install it when it is missing
# and this machine lets us (root with apt-get); otherwise say so: the browser tests then skip with the reason.
set -euo pipefail
if [ -x "${KB_TEST_CHROMIUM:-/usr/bin/chromium}" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing chromium for the browser tests (apt-get)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
else
  echo "chromium is not installed and cannot be installed here: the browser tests will be skipped." >&2
fi
