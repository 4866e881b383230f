/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for baton-web's --config file (src/web/config.c): its key table, its listen and
 * modules entries and their JSON, over the configuration library's loader (fuzz-config.c
 * covers the loader with baton.yaml's keys).
 *
 * The whole input is the file. Besides the sanitizers, oracles:
 *  - a failed load reports at least one line, and every line starts with the file's name (or
 *    is the cut-off notice);
 *  - a successful load stays within the option bounds, resolves every module path to an
 *    absolute one, and hands each module a configuration that is valid JSON (it parses as
 *    YAML into one node).
 *
 * Host names in `listen` never reach the network: getaddrinfo() is replaced by one that knows
 * no name (fuzz-common.c exercises the resolving branch).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/schema.h"
#include "web/web.h"
#include "fuzz.h"

/* Overrides the C library's (and the sanitizer's interceptor, which is a weak alias). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    return EAI_NONAME;
}

static char dir[64], path[96];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct baton__web_options o = {.server = BATON__SERVER_CONFIG_DEFAULT};
    struct baton_buf err = BATON_BUF_INIT(1 << 20);

    if (size > 256 * 1024)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz-web-config-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/web.yaml", dir);
        atexit(remove_dir);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    CHECK(close(fd) == 0);

    int r = baton__web_config_load(path, &o, &err);
    if (r < 0) {
        CHECK(r == -EINVAL);
        CHECK(err.len > 0);
        for (const char *p = err.data; *p;) {
            const char *nl = strchr(p, '\n');
            CHECK(nl != NULL);
            CHECK(strncmp(p, path, strlen(path)) == 0 || strncmp(p, "too many errors", 15) == 0);
            p = nl + 1;
        }
    } else {
        CHECK(err.len == 0);
        CHECK(o.nlisten <= BATON__WEB_MAX_LISTEN && o.nmodules <= BATON__WEB_MAX_MODULES);
        CHECK(o.server.limits.header_bytes <= (1 << 20) && o.server.limits.uri_bytes <= (1 << 20));
        CHECK(!o.static_root || o.static_root[0] == '/');
        for (size_t i = 0; i < o.nmodules; i++) {
            CHECK(o.modules[i].path[0] == '/');
            if (o.modules[i].config) {
                struct config_node *root = NULL;
                struct baton_buf perr = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
                const char *json = o.modules[i].config;
                CHECK(baton__config_yaml_parse("json", json, strlen(json), &root, &perr) == 0);
                CHECK(root != NULL);
                baton__config_node_free(root);
                baton__buf_free(&perr);
            }
        }
    }
    baton__web_options_free(&o);
    baton__buf_free(&err);
    return 0;
}
