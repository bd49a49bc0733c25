# Cross build for 32-bit ARM Linux gateways with a hardware FPU (BeagleBone,
# Raspberry Pi OS 32-bit class): Debian's cross compiler and the :armhf -dev
# packages of Debian multiarch (`scripts/install-deps --target armhf`).
set(EDGEFORGE_TARGET_TRIPLE arm-linux-gnueabihf)
set(EDGEFORGE_TARGET_PROCESSOR armv7l)
set(EDGEFORGE_TARGET_DEB_ARCH armhf)
set(EDGEFORGE_TARGET_QEMU qemu-arm)
include("${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake")
