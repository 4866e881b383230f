# SPDX-License-Identifier: MIT
# Static file serving for baton-web. src/http/CMakeLists.txt compiles BATON_STATIC_SOURCES into
# the HTTP core library; the unit tests compile BATON_STATIC_UNIT_SOURCES (everything that needs
# no request object) on their own.
set(BATON_STATIC_UNIT_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/mime.c
    ${CMAKE_CURRENT_LIST_DIR}/static-cond.c
    ${CMAKE_CURRENT_LIST_DIR}/static-encoding.c
    ${CMAKE_CURRENT_LIST_DIR}/static-path.c
    ${CMAKE_CURRENT_LIST_DIR}/static-range.c)
set(BATON_STATIC_SOURCES ${CMAKE_CURRENT_LIST_DIR}/static.c ${BATON_STATIC_UNIT_SOURCES})
