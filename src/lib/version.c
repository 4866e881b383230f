/* SPDX-License-Identifier: MIT */
/*
 * The library's version, fixed at build time from the project version.
 */
#include "baton/baton.h"

#ifndef BATON_VERSION
#error "BATON_VERSION must be defined by the build"
#endif

const char *baton_version(void)
{
    return BATON_VERSION;
}
