# `make deb`: a Debian package of the installed tree (CPack's DEB generator). Depends: comes from
# dpkg-shlibdeps, i.e. from the libraries the binaries actually link (libuv and libfyaml are
# linked statically when their archives exist, so they are not among them).
# SPDX-License-Identifier: MIT
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME baton)
set(CPACK_PACKAGE_VENDOR "The baton authors")
set(CPACK_PACKAGE_CONTACT "The baton authors <maintainers@baton-project.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "update web services without dropping a request")
set(CPACK_PACKAGE_DESCRIPTION
    "baton is a supervisor that owns a web service's listening sockets and\n\
swaps generations of its workers - start new, wait until ready, drain\n\
old, roll back when the new one is bad - so that no request fails during\n\
an update. It comes with baton-web, an HTTP/1.1 server for C handler\n\
modules, and libbaton, the application side of systemd's\n\
socket-activation and notify protocols.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
    ${PROJECT_SOURCE_DIR}/deploy/debian/triggers)
set(CPACK_STRIP_FILES ON)
include(CPack)
