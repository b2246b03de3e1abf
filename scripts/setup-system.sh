#!/usr/bin/env bash
# Installs the system packages tinykd needs: the Arm cross toolchain and QEMU >= 9
# (for its B-L475E-IOT01A board). On Debian bookworm QEMU comes from bookworm-backports.
# Idempotent; skips everything already present. Needs root (or sudo).
set -euo pipefail
if [ "${1:-}" = "--venv-only" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip
  exit 0
fi

# The QEMU machine of the default board, from its description (firmware/boards/*/board.yaml).
BOARD_YAML="$(cd "$(dirname "$0")/.." && pwd)/firmware/boards/b_l475e_iot01a/board.yaml"
MACHINE=$(sed -n 's/^qemu_machine:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$BOARD_YAML")
[ -n "$MACHINE" ] || { echo "setup-system: $BOARD_YAML names no qemu_machine" >&2; exit 1; }

need_qemu() {
  command -v qemu-system-arm >/dev/null 2>&1 || return 0
  qemu-system-arm -machine help 2>/dev/null | grep -q "^$MACHINE " || return 0
  return 1
}
need_arm() {
  command -v arm-none-eabi-gcc >/dev/null 2>&1 || return 0
  [ -f /usr/lib/arm-none-eabi/newlib/libc.a ] || [ -d /usr/lib/arm-none-eabi/lib ] || return 0
  return 1
}
if ! need_qemu && ! need_arm; then
  echo "setup-system: toolchain and QEMU already present"; exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup-system: need root or sudo to apt-get install" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
codename=${VERSION_CODENAME:-}
if [ "${ID:-}" = debian ] && [ "$codename" = bookworm ]; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup-system: adding bookworm-backports (QEMU in bookworm is 7.2, without the STM32L4 board)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
  QEMU_TARGET="-t bookworm-backports"
else
  QEMU_TARGET=""
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi make gcc
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $QEMU_TARGET qemu-system-arm
qemu-system-arm --version | head -1
qemu-system-arm -machine help | grep -q "^$MACHINE " || {
  echo "setup-system: qemu-system-arm has no $MACHINE board (need QEMU >= 9)" >&2; exit 1; }
arm-none-eabi-gcc --version | head -1
