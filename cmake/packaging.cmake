# SPDX-License-Identifier: MIT
# Installation and packaging (included at the end of the top-level CMakeLists.txt):
#   cmake --install BUILD [--prefix P]   the otakit command; libotakit.a (core + POSIX port +
#                                        host engine) with its headers and otakit.pc; the man
#                                        page; the bash completion; the docs
#   cpack -G DEB (in BUILD)              a Debian package of the same files under /usr
include(GNUInstallDirs)

# One static library for users of the C API: the three internal libraries' objects together.
add_library(otakit_lib STATIC $<TARGET_OBJECTS:otakit_core> $<TARGET_OBJECTS:otakit_posix>
                              $<TARGET_OBJECTS:otakit_host>)
set_target_properties(otakit_lib PROPERTIES OUTPUT_NAME otakit LINKER_LANGUAGE C)

# What a program linking libotakit.a needs besides it. A sanitizer build's objects call the
# sanitizer runtimes, so its library asks for them too.
set(OTK_PC_LIBS "${MBEDCRYPTO_LIB}")
get_filename_component(_otk_mbed_dir "${MBEDCRYPTO_LIB}" DIRECTORY)
if(_otk_mbed_dir MATCHES "^(/usr/lib|/usr/lib64|/usr/lib/[^/]+-linux-gnu|/lib|/lib/[^/]+-linux-gnu)$")
  set(OTK_PC_LIBS "-lmbedcrypto")
endif()
# the uploader's gzip (native-protocol devices that take compressed images)
set(OTK_PC_LIBS "${OTK_PC_LIBS} -lz")
if(OTK_SANITIZE)
  set(OTK_PC_LIBS "${OTK_PC_LIBS} -fsanitize=address,undefined")
endif()
file(RELATIVE_PATH OTK_PC_RELPREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" OTK_PC_RELPREFIX "${OTK_PC_RELPREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/otakit.pc.in ${CMAKE_BINARY_DIR}/otakit.pc @ONLY)

install(TARGETS otakit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS otakit_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# esp_idf.h is the ESP-IDF component's API (ports/esp-idf/otakit): it needs ESP-IDF's headers
# and has no place in a host install.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/otakit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "esp_idf.h" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/otakit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${PROJECT_SOURCE_DIR}/docs/otakit.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/completion/otakit.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME otakit)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md")

# Debian package: cpack -G DEB
set(CPACK_PACKAGE_NAME otakit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "over-the-air updates for ESP32/ESP8266: espota-compatible uploader, device emulator, C library")
set(CPACK_PACKAGE_DESCRIPTION
    "otakit speaks the ArduinoOTA / espota.py protocol. 'otakit upload' is a drop-in for espota.py that streams, retries and explains failures; 'otakit device' emulates an ESP32/ESP8266 with flash in a file; libotakit.a is the portable C library.")
set(CPACK_PACKAGE_CONTACT "otakit maintainers <otakit@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION electronics)
# the runtime libraries of the otakit binary, found by dpkg-shlibdeps (dpkg-dev)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# programs built against libotakit.a link libmbedcrypto and zlib
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libmbedtls-dev, zlib1g-dev, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
include(CPack)
