/* SPDX-License-Identifier: MIT */
#ifndef BATON_COMMON_HTTP_STATUS_H
#define BATON_COMMON_HTTP_STATUS_H

/* The reason phrase of status (RFC 9110's), or "Unknown"; never NULL. */
const char *baton__status_reason(int status);

#endif
