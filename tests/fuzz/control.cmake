# SPDX-License-Identifier: MIT
# Both ends of the control protocol: the supervisor's request parser
# (src/supervisor/control-request.c, in baton_supervisor) and the CLI's reply parser and result
# printers (src/cli/control-client.c and print.c, compiled in: the CLI is a program, not a
# library). Corpus: tests/fuzz/corpus/control/ (requests and replies of docs/protocol.md, and
# garbage).
baton_fuzz_target(control
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-control.c
            ${PROJECT_SOURCE_DIR}/src/cli/control-client.c
            ${PROJECT_SOURCE_DIR}/src/cli/print.c
    LIBS baton_supervisor baton_common)
