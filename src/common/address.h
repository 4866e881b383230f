/* SPDX-License-Identifier: MIT */
/* Listen addresses as written in configuration: host:port, [v6]:port, :port, unix:/path. */
#ifndef BATON_COMMON_ADDRESS_H
#define BATON_COMMON_ADDRESS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct baton_address {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } u;
    socklen_t len;
};

/* Parses text into addr. ":port" means every IPv4 interface; a host name is resolved once,
 * here. Returns 0 or -EINVAL, with a reason (static text) in *ret_reason when not NULL. */
int baton__address_parse(const char *text, struct baton_address *addr, const char **ret_reason);

/* Writes the address in the form baton__address_parse() reads. Returns buf. */
char *baton__address_format(const struct baton_address *addr, char *buf, size_t size);

/* Creates, binds and listens on a blocking, close-on-exec stream socket (SO_REUSEADDR for
 * TCP; IPV6_V6ONLY for IPv6; a stale UNIX socket file nobody answers on is replaced, a live one
 * is -EADDRINUSE). Returns the fd or -errno. */
int baton__address_listen(const struct baton_address *addr, int backlog);

/* TCP_DEFER_ACCEPT on a TCP listener fd: the kernel queues a connection for accept() only once
 * its first bytes have arrived, or, for a client that sends nothing, after about ms (rounded up
 * to whole seconds, at most an hour); 0 restores the plain behaviour. A UNIX socket has no such
 * option: 0, nothing done. Returns 0 or -errno. */
int baton__address_defer_accept(int fd, int family, uint64_t ms);

/* Returns the port of a TCP address, 0 for UNIX. */
int baton__address_port(const struct baton_address *addr);

#endif
