# SPDX-License-Identifier: MIT
# The supervisor's notify message parser (baton__notify_parse in src/supervisor/notify.c): the
# datagrams workers send to NOTIFY_SOCKET. The CLI's reply parser (src/cli/control-client.c) is
# compiled in to check that STATUS= and BATON_STATS= values reach `baton status` intact.
# Corpus: tests/fuzz/corpus/notify/.
baton_fuzz_target(notify
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-notify.c
            ${PROJECT_SOURCE_DIR}/src/cli/control-client.c
    LIBS baton_supervisor baton_common)
