# SPDX-License-Identifier: MIT
# The metrics endpoint's request-head reader (baton__endpoint_parse in
# src/supervisor/endpoint-request.c): whatever a scraper sends. Corpus: tests/fuzz/corpus/endpoint/.
baton_fuzz_target(endpoint
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-endpoint.c
    LIBS baton_supervisor)
