/* SPDX-License-Identifier: MIT */
/* A shared object that is no baton-web module: it lacks the `baton_module` symbol. */
#include "baton/module.h"

BATON_MODULE_EXPORT int not_a_module = 1;
