# SPDX-License-Identifier: MIT
# The JSON reader of src/common (doc.c): control requests, control replies and re-exec state
# all go through it. Corpus: tests/fuzz/corpus/doc/ (valid documents, YAML that is not JSON,
# bounds, escapes, duplicate keys).
if(TARGET baton_common)
    baton_fuzz_target(doc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-doc.c LIBS baton_common)
endif()
