#!/usr/bin/env bash
# Makes sure the C-to-WebAssembly toolchain that plugins/build.sh uses for
# the C example and test plugins is installed: Debian's clang, lld,
# wasi-libc and the wasm32 compiler runtime. Silent when they are there;
# installs them with apt-get when missing (as root), so that `make test`
# works on a fresh Debian machine.
set -euo pipefail

packages=(clang lld wasi-libc libclang-rt-dev-wasm32)

present() {
	command -v "${WASM_CC:-clang}" >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 || return 1
	[[ -e /usr/lib/wasm32-wasi/libc.a || -n "${WASI_SYSROOT:-}" ]] || return 1
	local rt
	rt="$("${WASM_CC:-clang}" -print-resource-dir)/lib/wasi/libclang_rt.builtins-wasm32.a"
	[[ -e "$rt" ]]
}

present && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "plugins/toolchain.sh: the C plugins need clang, wasm-ld, wasi-libc and the wasm32 compiler runtime;" >&2
	echo "  on Debian: sudo apt-get install -y ${packages[*]}" >&2
	exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "plugins/toolchain.sh: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update only when the
# first attempt cannot find the packages.
if ! apt-get install -y -qq "${packages[@]}" >"$log" 2>&1; then
	apt-get update -qq >>"$log" 2>&1 || true
	if ! apt-get install -y -qq "${packages[@]}" >>"$log" 2>&1; then
		cat "$log" >&2
		exit 1
	fi
fi
present || { echo "plugins/toolchain.sh: installed, but clang still cannot build for wasm32-wasi" >&2; exit 1; }
