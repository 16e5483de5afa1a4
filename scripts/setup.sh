#!/usr/bin/env bash
# Installs the Debian packages batchtune needs to build, test and run, when they
# are missing. Runs as root or through sudo; safe to run any number of times.
#
# usage: scripts/setup.sh [--cuda]
#   --cuda  Debian 13 and later: LibTorch built with CUDA (contrib's
#           libtorch-cuda-dev, its CUDA runtime, NCCL and CUDA headers from
#           non-free) in place of the CPU LibTorch. Its nvidia-cudnn dependency
#           is an installer that downloads cuDNN from NVIDIA; here it is met by
#           an empty local package (equivs), so cuDNN is absent: LibTorch then
#           runs convolutions on a GPU without cuDNN. The apt sources must
#           list contrib and non-free (scripts/check-debian13 --cuda does).
#           Removes libtorch-dev, python3-torch and libgloo-dev (they conflict).
set -euo pipefail

cuda=0
case ${1:-} in
  --cuda) cuda=1 ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "setup: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

if [[ $cuda -eq 1 ]]; then
  torch_packages=(
    libtorch-cuda-dev  # LibTorch 2.6 with CUDA and NCCL (contrib)
    nvidia-cuda-dev    # cuda_runtime_api.h, which LibTorch's CUDA headers include (non-free)
    nvidia-cuda-toolkit  # nvcc: Torch's CMake config enables the CUDA language (non-free)
    libnccl-dev        # nccl.h: ProcessGroupNCCL (non-free)
    libgloo-cuda-dev   # c10d's Gloo headers, the CUDA build's
    python3-torch-cuda # the Python side, the same LibTorch
  )
else
  torch_packages=(
    libtorch-dev
    libgloo-dev  # c10d's Gloo headers: data-parallel sweeps (torchrun); libtorch-dev does not pull them in
    python3-torch   # exports the TorchScript test fixture; the Python side of bench/
  )
fi

packages=(
  cmake g++ ninja-build ccache git pkg-config
  "${torch_packages[@]}"
  nlohmann-json3-dev libcli11-dev catch2 zlib1g-dev
  libopenblas0-pthread  # Debian's libtorch otherwise runs on the reference BLAS: 5-13x slower mlp steps
  dataset-fashion-mnist
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
if [[ $cuda -eq 1 ]]; then
  status=$(dpkg-query -W -f='${Status}' nvidia-cudnn 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    # The stand-in for nvidia-cudnn, at the version libtorch-cuda-2.6 asks for.
    echo "setup: making an empty nvidia-cudnn package (equivs): cuDNN cannot be downloaded here"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends equivs
    stub=$(mktemp -d)
    cat >"$stub/nvidia-cudnn.ctl" <<'CTL'
Section: contrib/libs
Priority: optional
Standards-Version: 3.9.2
Package: nvidia-cudnn
Version: 9.0.0.312~cuda12
Provides: libcudnn-dev, libcudnn.so, libcudnn.so.9
Description: empty stand-in for the nvidia-cudnn installer (no cuDNN)
 batchtune's scripts/setup.sh --cuda installs it so that libtorch-cuda-dev
 installs where cuDNN cannot be fetched from NVIDIA.
CTL
    (cd "$stub" && equivs-build nvidia-cudnn.ctl >/dev/null)
    "${sudo[@]}" dpkg -i "$stub"/nvidia-cudnn_*.deb
    rm -rf "$stub"
  fi
  # The CPU LibTorch and its Python and Gloo packages conflict with the CUDA ones.
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" libtorch-dev- python3-torch- libgloo-dev-
else
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
