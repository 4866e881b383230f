# SPDX-License-Identifier: MIT
# The static file server's header parsers (src/http/static-*.c, static-internal.h): Range,
# If-Range, Accept-Encoding, entity-tag lists, HTTP-dates, the path check. They are compiled
# into baton_http (src/http/static.cmake). Corpus: tests/fuzz/corpus/static/.
baton_fuzz_target(static SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-static.c LIBS baton_http)
