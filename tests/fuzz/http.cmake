# SPDX-License-Identifier: MIT
# The HTTP/1.1 request parser (src/http/parser.c): the bytes a client sends on one connection.
# Corpus: tests/fuzz/corpus/http/ (the malformed-request table of
# tests/integration/test_http_malformed.py plus what libFuzzer found, minimised with -merge=1).
baton_fuzz_target(http SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-http.c LIBS baton_http)
