# SPDX-License-Identifier: MIT
# baton-web's --config file (src/web/config.c, compiled in: baton-web is a program, not a
# library) over the configuration library. Corpus: tests/fuzz/corpus/web-config/.
baton_fuzz_target(web-config
                  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-web-config.c
                          ${PROJECT_SOURCE_DIR}/src/web/config.c
                  LIBS baton_config baton_http)
