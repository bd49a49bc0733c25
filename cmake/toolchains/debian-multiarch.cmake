# The common part of the cross toolchain files: a Debian cross compiler for
# EDGEFORGE_TARGET_TRIPLE with the target's libraries from Debian multiarch
# (/usr/lib/<triple>, headers in /usr/include and /usr/include/<triple>).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${EDGEFORGE_TARGET_PROCESSOR})
set(CMAKE_C_COMPILER ${EDGEFORGE_TARGET_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${EDGEFORGE_TARGET_TRIPLE}-g++)
# find_library / find_package look in lib/<triple> first.
set(CMAKE_LIBRARY_ARCHITECTURE ${EDGEFORGE_TARGET_TRIPLE})
# No CMAKE_FIND_ROOT_PATH: with CMAKE_LIBRARY_ARCHITECTURE set, the implicit
# search covers /usr/lib/<triple> and /usr/lib but not the host's
# /usr/lib/x86_64-linux-gnu, so a host library is not picked by mistake.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config (libmosquitto, when the host tools are built) reads the target's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${EDGEFORGE_TARGET_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
# Tests and gtest discovery run the target's binaries under qemu-user. The
# dynamic loader and libraries come from multiarch (/lib/ld-linux-*.so and
# /usr/lib/<triple>), so qemu needs no -L / QEMU_LD_PREFIX (with
# -L /usr/<triple>, the cross-compiler's copy of libc, Paho's threads hung:
# docs/edge.md).
find_program(EDGEFORGE_QEMU ${EDGEFORGE_TARGET_QEMU})
if(EDGEFORGE_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGEFORGE_QEMU})
endif()
# GCC on 32-bit ARM notes, for every std::vector of 64-bit pairs, that GCC 7.1
# changed how such arguments are passed: nothing to act on in a program built
# by one compiler.
if(EDGEFORGE_TARGET_PROCESSOR MATCHES "^arm")
  string(APPEND CMAKE_CXX_FLAGS_INIT " -Wno-psabi")
endif()
# The .deb's architecture (deploy/debian).
set(EDGEFORGE_DEB_ARCH ${EDGEFORGE_TARGET_DEB_ARCH} CACHE STRING "Debian architecture of the package")
