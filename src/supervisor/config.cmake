# The configuration loader (config.h): compiled into baton_supervisor by src/supervisor/CMakeLists.txt.
set(BATON_CONFIG_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/config.c
    ${CMAKE_CURRENT_LIST_DIR}/config-yaml.c
    ${CMAKE_CURRENT_LIST_DIR}/config-text.c
    ${CMAKE_CURRENT_LIST_DIR}/config-keys.c
    ${CMAKE_CURRENT_LIST_DIR}/config-apply.c
    ${CMAKE_CURRENT_LIST_DIR}/config-layers.c
    ${CMAKE_CURRENT_LIST_DIR}/config-print.c)
