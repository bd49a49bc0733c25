# The .deb of edgeforge-device (`cpack -G DEB` in a build tree; the cross
# presets make the arm64 and armhf packages): the firmware binary, the sample
# config as a conffile, the built-in boards' JSON, its docs and --help, and the
# hardened systemd unit (deploy/debian/, docs/packaging.md). The simulator and
# the host tools are not in it.
include(GNUInstallDirs)

install(TARGETS edgeforge-device RUNTIME DESTINATION bin)
# The sample config: readable by the service's group only (postinst sets
# root:edgeforge; the device refuses a config others may write).
install(FILES deploy/debian/device.json DESTINATION /etc/edgeforge
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES deploy/debian/edgeforge-device.service DESTINATION /lib/systemd/system)
file(GLOB edgeforge_boards "${PROJECT_SOURCE_DIR}/boards/*.json")
install(FILES ${edgeforge_boards} DESTINATION share/edgeforge/boards)
install(FILES README.md docs/device-config.md docs/packaging.md docs/edge.md docs/boards.md docs/telemetry.md
        DESTINATION share/doc/edgeforge-device)

# `edgeforge-device --help` as the package's usage page, made by running the
# binary at build time (under qemu-user in a cross build: the emulator comes
# from the toolchain file).
set(help_txt "${PROJECT_BINARY_DIR}/edgeforge-device.help.txt")
set(emulator "")
if(CMAKE_CROSSCOMPILING)
  set(emulator ${CMAKE_CROSSCOMPILING_EMULATOR})
endif()
add_custom_command(OUTPUT "${help_txt}"
                   COMMAND sh -c "\"$@\" --help > \"${help_txt}\"" sh ${emulator} $<TARGET_FILE:edgeforge-device>
                   DEPENDS edgeforge-device VERBATIM COMMENT "edgeforge-device --help for the package docs")
add_custom_target(edgeforge_device_help ALL DEPENDS "${help_txt}")
install(FILES "${help_txt}" DESTINATION share/doc/edgeforge-device)

# The package's architecture: the host's, or the cross toolchain's
# (cmake/toolchains/*.cmake set EDGEFORGE_DEB_ARCH).
if(NOT EDGEFORGE_DEB_ARCH)
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE host_arch OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  set(EDGEFORGE_DEB_ARCH "${host_arch}" CACHE STRING "Debian architecture of the package")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgeforge-device)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "edgeforge maintainers <edgeforge@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "edge sensor firmware: signed telemetry over MQTT 5 and mutual TLS to AWS IoT Core")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${EDGEFORGE_DEB_ARCH}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/edgeforge")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Reads manufacturing and traffic sensors through a hardware abstraction layer,
publishes ES256-signed JSON telemetry windows and threshold alarms over MQTT 5
with mutual TLS, keeps its configuration in the device shadow and stores and
forwards what it cannot send. Runs as the systemd service edgeforge-device.")
# The runtime libraries, named as Debian 12 ships them, rather than
# dpkg-shlibdeps: it would read a cross-built binary's dependencies from the
# host's package database, which the cross build must not rely on.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, libpaho-mqttpp3-1 (>= 1.2), libpaho-mqtt1.3, libmbedcrypto7, libmbedx509-1, libssl3, libspdlog1.10, libfmt9, adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/deploy/debian/conffiles;${PROJECT_SOURCE_DIR}/deploy/debian/postinst;${PROJECT_SOURCE_DIR}/deploy/debian/prerm;${PROJECT_SOURCE_DIR}/deploy/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
