#!/bin/bash
# Install what rlaunch needs to build and test on Debian 12 (as root), and
# nothing when it is all there already.
#   scripts/install-deps.sh          build, test and benchmark dependencies
set -euo pipefail

packages=(
	cmake make gcc pkg-config libc6-dev  # build
	libuv1-dev libsodium-dev              # event loop, HMAC (both linked statically)
	libpmix-dev libmunge-dev             # PMIx, MUNGE headers (the libraries are dlopen'ed)
	libfabric-dev                        # libfabric headers + libfabric1 (dlopen'ed by the check)
	python3-torch                        # the real PyTorch client in the tests and the demo job
	procps iproute2 shellcheck           # tests: ps, namespaces, script lint
	slurm-wlm munge openmpi-bin          # tests: a simulated Slurm cluster, mpirun
	clang libclang-rt-14-dev valgrind    # tests: libFuzzer, sanitizers, memcheck
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
