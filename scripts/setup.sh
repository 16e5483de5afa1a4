#!/usr/bin/env bash
# Installs the Debian packages batchtune needs to build, test and run, when they
# are missing. Runs as root or through sudo; safe to run any number of times.
set -euo pipefail

packages=(
  cmake g++ ninja-build ccache git pkg-config
  libtorch-dev nlohmann-json3-dev libcli11-dev catch2 zlib1g-dev
  libgloo-dev  # c10d's Gloo headers: data-parallel sweeps (torchrun); libtorch-dev does not pull them in
  libopenblas0-pthread  # Debian's libtorch otherwise runs on the reference BLAS: 5-13x slower mlp steps
  dataset-fashion-mnist
  python3-torch   # exports the TorchScript test fixture; the Python side of bench/
  python3-torchvision  # the ResNet-18 fixture a new user would bring (tests)
  python3-jsonschema       # the test that validates real reports against schema/report.schema.json
  chromium fonts-dejavu-core  # the test that renders the HTML report headless
  e2fsprogs                # chattr: the fault suite's immutable output file (not in a minimal Debian)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: error: missing packages (${missing[*]}) and neither root nor sudo to install them;" \
       "run this script as root" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
