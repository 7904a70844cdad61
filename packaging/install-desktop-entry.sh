#!/usr/bin/env bash
# Adds Studio to the Linux desktop's application menu for the current user.
# Run it from the checkout after `pip install -e .` (or with `studio` on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
install -m 644 "$here/../resources/icons/studio.svg" "$icons/studio.svg"
studio_bin="$(command -v studio || echo "$here/../.venv/bin/studio")"
sed "s|^Exec=studio|Exec=$studio_bin|" "$here/studio.desktop" > "$apps/studio.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "Installed $apps/studio.desktop"
