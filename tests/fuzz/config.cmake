# SPDX-License-Identifier: MIT
# The configuration library (src/config/): baton.yaml, the baton.<env>.yaml overlay and a
# --set value, all written by people (fuzz-config.c says how the input is split). Corpus:
# tests/fuzz/corpus/config/ (the loader's own test cases plus what libFuzzer found, minimised
# with -merge=1).
baton_fuzz_target(config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-config.c LIBS baton_config)
