# Cross build for 64-bit ARM Linux gateways (Raspberry Pi 4 / CM4 class):
# Debian's cross compiler and the :arm64 -dev packages of Debian multiarch
# (`scripts/install-deps --target arm64`). No sysroot: multiarch puts the
# target's libraries in /usr/lib/aarch64-linux-gnu beside the host's.
set(EDGEFORGE_TARGET_TRIPLE aarch64-linux-gnu)
set(EDGEFORGE_TARGET_PROCESSOR aarch64)
set(EDGEFORGE_TARGET_DEB_ARCH arm64)
set(EDGEFORGE_TARGET_QEMU qemu-aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake")
