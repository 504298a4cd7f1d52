#!/bin/sh
# The Debian packages edgecnn needs, installed with apt-get when they are missing. The README's
# two quick-start commands start with it, and CI runs those commands, so CI installs what a
# user's machine gets.
#   sh tools/setup-debian.sh run    Fashion-MNIST's IDX files (dataset-fashion-mnist): the
#                                   default `edgecnn build` trains offline
#   sh tools/setup-debian.sh test   those, and what the tests compile and run with: g++, the
#                                   Arm cross compiler and its C/C++ libraries, QEMU (the
#                                   emulated Cortex-M4) and clang-format
# Needs root or password-less sudo to install; otherwise it names what to install, in one line.
set -eu
case "${1:-run}" in
  run) packages="dataset-fashion-mnist" ;;
  test) packages="dataset-fashion-mnist g++ gcc-arm-none-eabi libnewlib-arm-none-eabi \
libstdc++-arm-none-eabi-newlib clang-format qemu-system-arm" ;;
  *) echo "usage: sh tools/setup-debian.sh [run|test]" >&2; exit 2 ;;
esac
# `python3 -m venv` needs Debian's python3-venv when python3 is Debian's own.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  packages="$packages python3-venv"
fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo"
else
  echo "edgecnn: install these Debian packages first, as root: apt-get install$missing" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "edgecnn: no apt-get here: install the packages named$missing (Debian/Ubuntu names)" >&2
  exit 1
fi
echo "edgecnn: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
