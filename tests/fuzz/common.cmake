# SPDX-License-Identifier: MIT
# The parsers of src/common that read configuration and command lines: durations (duration.c)
# and listen addresses (address.c). Corpus: tests/fuzz/corpus/common/.
baton_fuzz_target(common SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-common.c LIBS baton_common)
