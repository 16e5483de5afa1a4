#!/usr/bin/env bash
# Installs the Debian packages batchtune needs to build, test and run, when they
# are missing. Runs as root or through sudo; safe to run any number of times.
#
# usage: scripts/setup.sh [--cuda]
#   --cuda  Debian 13 and later: LibTorch built with CUDA (contrib's
#           libtorch-cuda-dev, its CUDA runtime, NCCL and CUDA headers from
#           non-free) in place of the CPU LibTorch. Its nvidia-cudnn dependency
#           is an installer that downloads cuDNN from NVIDIA; here it is met by
#           a local package (equivs) holding a stub libcudnn.so.9 whose
#           functions fail, made from the symbols LibTorch asks for, so that
#           LibTorch links and loads on a machine without a GPU (one with a
#           GPU needs the real cuDNN). The apt sources must
#           list contrib and non-free (scripts/check-debian13 --cuda does).
#           Removes libtorch-dev, python3-torch and libgloo-dev (they conflict).
set -euo pipefail

cuda=0
case ${1:-} in
  --cuda) cuda=1 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# The CUDA LibTorch needs a libcudnn.so.9 to link and load (see --cuda above).
need_cudnn_stub=0
[[ $cuda -eq 1 && ! -e /usr/lib/x86_64-linux-gnu/libcudnn.so.9 ]] && need_cudnn_stub=1

if [[ ${#missing[@]} -eq 0 && $need_cudnn_stub -eq 0 ]]; then
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

[[ ${#missing[@]} -eq 0 ]] || echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
if [[ $cuda -eq 1 ]]; then
  if [[ $need_cudnn_stub -eq 1 ]]; then
    # The stand-in for nvidia-cudnn, at the version libtorch-cuda-2.6 asks
    # for, holding a stub libcudnn.so.9: LibTorch's CUDA libraries need that
    # library to link and to load. Its functions answer "not initialized"
    # (cuDNN's status 1001); they are only called to run on a GPU, which a
    # machine that needs this stub does not have.
    echo "setup: making an nvidia-cudnn stand-in with a stub libcudnn.so.9 (equivs): cuDNN cannot be downloaded here"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends equivs binutils gcc
    stub=$(mktemp -d)
    (
      cd "$stub"
      apt-get download -q libtorch-cuda-2.6 >/dev/null
      dpkg-deb -x libtorch-cuda-2.6_*.deb tree
      for lib in tree/usr/lib/*/libtorch_cuda.so.* tree/usr/lib/*/libtorch_python.so.*; do
        [[ -L $lib ]] || nm -D --undefined-only "$lib"
      done | awk '$2 ~ /@libcudnn\.so\.9$/ { sub(/@.*/, "", $2); print $2 }' | sort -u >symbols
      [[ -s symbols ]] || { echo "setup: error: found no cuDNN symbols in libtorch-cuda-2.6" >&2; exit 1; }
      {
        echo '#include <stddef.h>'
        echo 'const char* cudnnGetErrorString(int s) { (void)s; return "cuDNN is not installed (a stub: scripts/setup.sh --cuda)"; }'
        echo 'size_t cudnnGetVersion(void) { return 0; }'
        echo 'size_t cudnnGetCudartVersion(void) { return 0; }'
        echo 'size_t cudnnGetMaxDeviceVersion(void) { return 0; }'
        grep -vxE 'cudnnGetErrorString|cudnnGetVersion|cudnnGetCudartVersion|cudnnGetMaxDeviceVersion' symbols |
          sed 's/.*/int &(void) { return 1001; }/'
      } >cudnn_stub.c
      echo 'libcudnn.so.9 { global: *; };' >cudnn_stub.map
      gcc -shared -fPIC -O1 -w -Wl,-soname,libcudnn.so.9 -Wl,--version-script=cudnn_stub.map -o libcudnn.so.9 cudnn_stub.c
      cat >nvidia-cudnn.ctl <<'CTL'
Section: contrib/libs
Priority: optional
Standards-Version: 3.9.2
Package: nvidia-cudnn
Version: 9.0.0.312~cuda12
Provides: libcudnn-dev, libcudnn.so, libcudnn.so.9
Files: libcudnn.so.9 /usr/lib/x86_64-linux-gnu/
Description: stand-in for the nvidia-cudnn installer, with a stub libcudnn.so.9
 batchtune's scripts/setup.sh --cuda installs it so that libtorch-cuda-dev
 installs, links and loads where cuDNN cannot be fetched from NVIDIA. Its
 functions fail; a machine with a GPU needs the real cuDNN.
CTL
      equivs-build nvidia-cudnn.ctl >/dev/null
    ) || exit 1
    "${sudo[@]}" dpkg -i "$stub"/nvidia-cudnn_*.deb
    "${sudo[@]}" ldconfig
    rm -rf "$stub"
  fi
  # The CPU LibTorch and its Python and Gloo packages conflict with the CUDA ones.
  [[ ${#missing[@]} -eq 0 ]] ||
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" libtorch-dev- python3-torch- libgloo-dev-
else
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
