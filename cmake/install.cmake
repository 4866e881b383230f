# What `make install` (cmake --install) puts where, beside the install() rules of the targets
# themselves (src/cli, src/web, src/lib). `make uninstall` removes exactly what the last install
# wrote (install_manifest.txt); `make deb` packs the same tree (CPack, see cmake/package.cmake).
# SPDX-License-Identifier: MIT
include(CMakePackageConfigHelpers)

# Public headers: baton.h comes with libbaton (PUBLIC_HEADER); modules need the other two.
install(FILES ${PROJECT_SOURCE_DIR}/include/baton/http.h ${PROJECT_SOURCE_DIR}/include/baton/module.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/baton COMPONENT libbaton)

# find_package(baton): imported targets baton::baton, baton::baton_static, baton::module.
install(EXPORT batonTargets NAMESPACE baton:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton
        COMPONENT libbaton)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/batonConfig.cmake.in
    ${PROJECT_BINARY_DIR}/cmake/batonConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton
    PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/batonConfigVersion.cmake
    COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/batonConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/batonConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton COMPONENT libbaton)

# Manual pages (gzipped in the Debian package, as its policy wants).
option(BATON_DEB_LAYOUT "Install the way the Debian package wants it (make deb)" OFF)
set(_man ${PROJECT_SOURCE_DIR}/docs/man/baton.1 ${PROJECT_SOURCE_DIR}/docs/man/baton-web.1)
if(BATON_DEB_LAYOUT)
    set(_gz "")
    foreach(m ${_man} ${PROJECT_SOURCE_DIR}/deploy/debian/changelog)
        get_filename_component(n ${m} NAME)
        add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/${n}.gz
            COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/deb
            COMMAND gzip -9n -c ${m} > ${PROJECT_BINARY_DIR}/deb/${n}.gz
            DEPENDS ${m} VERBATIM)
        list(APPEND _gz ${PROJECT_BINARY_DIR}/deb/${n}.gz)
    endforeach()
    add_custom_target(baton_deb_files ALL DEPENDS ${_gz})
    install(FILES ${PROJECT_BINARY_DIR}/deb/baton.1.gz ${PROJECT_BINARY_DIR}/deb/baton-web.1.gz
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    install(FILES ${PROJECT_BINARY_DIR}/deb/changelog.gz ${PROJECT_SOURCE_DIR}/deploy/debian/copyright
            DESTINATION ${CMAKE_INSTALL_DOCDIR})
    install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/lintian-overrides
            DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME baton)
else()
    install(FILES ${_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# Bash completion: bash-completion loads a file named after the command being completed.
set(BATON_COMPLETIONSDIR ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/completion/baton DESTINATION ${BATON_COMPLETIONSDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/completion/baton DESTINATION ${BATON_COMPLETIONSDIR}
        RENAME baton-web)

# systemd: the units, and the user baton@.service runs as. systemd reads units from
# <prefix>/lib/systemd/system for /usr and /usr/local alike. The service names the installed
# binary, which is only known at install time (`cmake --install --prefix` may change it).
set(BATON_UNITDIR lib/systemd/system)
set(BATON_MODULEDIR ${CMAKE_INSTALL_LIBDIR}/baton/modules)
# Writes BUILD/deploy/OUT from IN with @BATON_BINDIR@ and @BATON_MODULEDIR@ replaced by the
# absolute directories of this install.
function(baton_install_configure in out)
    install(CODE "
        set(_bindir \"${CMAKE_INSTALL_BINDIR}\")
        set(_moduledir \"${BATON_MODULEDIR}\")
        if(NOT IS_ABSOLUTE \"\${_bindir}\")
            set(_bindir \"\${CMAKE_INSTALL_PREFIX}/\${_bindir}\")
        endif()
        if(NOT IS_ABSOLUTE \"\${_moduledir}\")
            set(_moduledir \"\${CMAKE_INSTALL_PREFIX}/\${_moduledir}\")
        endif()
        file(READ \"${in}\" _text)
        string(REPLACE \"@BATON_BINDIR@\" \"\${_bindir}\" _text \"\${_text}\")
        string(REPLACE \"@BATON_MODULEDIR@\" \"\${_moduledir}\" _text \"\${_text}\")
        file(WRITE \"${PROJECT_BINARY_DIR}/deploy/${out}\" \"\${_text}\")
    ")
endfunction()
baton_install_configure(${PROJECT_SOURCE_DIR}/deploy/systemd/baton@.service.in baton@.service)
baton_install_configure(${PROJECT_SOURCE_DIR}/deploy/examples/hello.yaml.in hello.yaml)
install(FILES ${PROJECT_BINARY_DIR}/deploy/hello.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(TARGETS hello LIBRARY DESTINATION ${BATON_MODULEDIR})
install(FILES ${PROJECT_BINARY_DIR}/deploy/baton@.service ${PROJECT_SOURCE_DIR}/deploy/systemd/baton@.socket
        DESTINATION ${BATON_UNITDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/baton.sysusers DESTINATION lib/sysusers.d
        RENAME baton.conf)

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(NOT BATON_DEB_LAYOUT) # the package has the license in copyright
    install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()
