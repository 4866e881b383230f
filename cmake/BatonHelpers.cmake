# SPDX-License-Identifier: MIT
# baton_unit_test(NAME SOURCES... [LIBS libs...])
#   A cmocka test binary registered with ctest under the label "unit".
function(baton_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
    target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
    add_test(NAME unit/${name} COMMAND ${name})
    set_tests_properties(unit/${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# baton_integration_test(FILE [SERIAL] [NAME STEM] [ENV VAR=VALUE])
#   One pytest file under tests/integration, registered with ctest under the label "integration".
#   SERIAL marks tests that put the machine under load: they never run beside another such test.
#   NAME registers a variant under another name, ENV adds to its environment.
function(baton_integration_test file)
    cmake_parse_arguments(T "SERIAL" "NAME;ENV" "" ${ARGN})
    get_filename_component(stem ${file} NAME_WE)
    if(T_NAME)
        set(stem ${T_NAME})
    endif()
    add_test(NAME integration/${stem}
             COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider -x
                     ${PROJECT_SOURCE_DIR}/tests/integration/${file}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/integration)
    set_tests_properties(integration/${stem} PROPERTIES
        LABELS integration TIMEOUT 600
        ENVIRONMENT "BATON_BUILD_DIR=${PROJECT_BINARY_DIR};BATON_SOURCE_DIR=${PROJECT_SOURCE_DIR};BATON_SANITIZE=$<BOOL:${BATON_SANITIZE}>;${T_ENV}")
    if(T_SERIAL)
        set_tests_properties(integration/${stem} PROPERTIES RESOURCE_LOCK load RUN_SERIAL TRUE)
    endif()
endfunction()
