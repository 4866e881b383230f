# SPDX-License-Identifier: MIT
# llhttp: prefer a system library found through pkg-config; otherwise build the C sources that
# Debian's node-llhttp ships as a static library.
pkg_check_modules(LLHTTP IMPORTED_TARGET libllhttp)
if(LLHTTP_FOUND)
    add_library(llhttp INTERFACE)
    target_link_libraries(llhttp INTERFACE PkgConfig::LLHTTP)
else()
    find_path(LLHTTP_INCLUDE_DIR llhttp.h
              PATHS /usr/share/include/llhttp /usr/include/llhttp /usr/include REQUIRED)
    find_path(LLHTTP_SOURCE_DIR llhttp.c PATHS /usr/share/llhttp REQUIRED)
    add_library(llhttp STATIC ${LLHTTP_SOURCE_DIR}/llhttp.c ${LLHTTP_SOURCE_DIR}/api.c
                              ${LLHTTP_SOURCE_DIR}/http.c)
    target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
    # Generated third-party code: not held to the project's warning flags.
    target_compile_options(llhttp PRIVATE -w -O2)
    set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)
endif()
