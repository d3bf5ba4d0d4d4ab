#!/usr/bin/env bash
# System packages the tests and the demo need: WeasyPrint's libraries and fonts (without
# libharfbuzz-subset0 it falls back to a font subsetting about 7x slower). Installs only what is
# missing; Debian's Chromium drives the browser tests of the web console (Playwright, no browser download).
set -euo pipefail
need=()
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
