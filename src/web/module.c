/* SPDX-License-Identifier: MIT */
/*
 * The module loader. A module is loaded from a private copy of its file in a memfd, opened by
 * dlopen("/proc/self/fd/N"): rebuilding or replacing the file on disk never changes the code a
 * running worker executes (writing over a mapped .so in place crashes the process that maps
 * it), and every load of a rebuilt file is a distinct object to the dynamic linker.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "web/web.h"

_Static_assert(BATON_MODULE_LOG_DEBUG == (int)BATON_LOG_DEBUG &&
                   BATON_MODULE_LOG_INFO == (int)BATON_LOG_INFO &&
                   BATON_MODULE_LOG_NOTICE == (int)BATON_LOG_NOTICE &&
                   BATON_MODULE_LOG_WARNING == (int)BATON_LOG_WARNING &&
                   BATON_MODULE_LOG_ERROR == (int)BATON_LOG_ERROR,
               "module.h's log levels are baton-web's");

static void module_log(const struct baton_module_context *ctx, int level, const char *message)
{
    const char *name = "module";
    const struct baton__web_module *m =
        (const struct baton__web_module *)((const char *)ctx -
                                           offsetof(struct baton__web_module, ctx));
    if (m->name)
        name = m->name;
    if (level < BATON_LOG_DEBUG || level > BATON_LOG_ERROR)
        level = BATON_LOG_INFO; /* modules cannot raise alerts */
    baton__log((enum baton_log_level)level, "%s: %s", name, message ? message : "");
}

static void release(struct baton__owner *owner)
{
    struct baton__web_module *m = (struct baton__web_module *)owner;
    if (m->inited && m->mod->fini)
        m->mod->fini(m->owner.state);
    if (m->dl)
        dlclose(m->dl);
    if (m->memfd >= 0)
        close(m->memfd);
    free(m->path);
    free(m->name);
    free(m->config);
    free(m);
}

/* Copies the file into a fresh memfd. Returns the memfd or -errno. */
static int private_copy(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int mfd = -1;
    int r;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto out;
    }
    const char *base = strrchr(path, '/');
    char name[64];
    snprintf(name, sizeof(name), "baton-module:%s", base ? base + 1 : path);
    mfd = memfd_create(name, MFD_CLOEXEC);
    if (mfd < 0) {
        r = -errno;
        goto out;
    }
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = sendfile(mfd, fd, NULL, (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            goto out;
        }
        left -= n;
    }
    r = mfd;
    mfd = -1;
out:
    if (mfd >= 0)
        close(mfd);
    close(fd);
    return r;
}

int baton__web_module_load(const char *path, const char *config, unsigned generation,
                           struct baton__web_module **ret, char *err, size_t errlen)
{
    struct baton__web_module *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "module %s: out of memory", path);
        return -ENOMEM;
    }
    m->memfd = -1;
    m->owner.refs = 1;
    m->owner.release = release;
    m->path = strdup(path);
    m->config = config ? strdup(config) : NULL;
    int r = 0;
    if (!m->path || (config && !m->config)) {
        snprintf(err, errlen, "module %s: out of memory", path);
        r = -ENOMEM;
        goto fail;
    }
    r = private_copy(path);
    if (r < 0) {
        snprintf(err, errlen, "module %s: cannot read: %s", path,
                 r == -EINVAL ? "not a regular file" : strerror(-r));
        goto fail;
    }
    m->memfd = r;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->memfd);
    m->dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        const char *e = dlerror();
        snprintf(err, errlen, "module %s: cannot load: %s", path, e ? e : "unknown error");
        r = -ENOEXEC;
        goto fail;
    }
    dlerror();
    m->mod = dlsym(m->dl, "baton_module");
    if (!m->mod) {
        snprintf(err, errlen, "module %s: missing symbol baton_module", path);
        r = -ENOEXEC;
        goto fail;
    }
    if (m->mod->abi != BATON_MODULE_ABI) {
        snprintf(err, errlen, "module %s: module built for ABI %u, this baton-web speaks ABI %d",
                 path, (unsigned)m->mod->abi, BATON_MODULE_ABI);
        r = -ENOEXEC;
        goto fail;
    }
    if (!m->mod->name || !*m->mod->name) {
        snprintf(err, errlen, "module %s: baton_module has no name", path);
        r = -EINVAL;
        goto fail;
    }
    m->name = strdup(m->mod->name);
    if (!m->name) {
        r = -ENOMEM;
        snprintf(err, errlen, "module %s: out of memory", path);
        goto fail;
    }
    m->owner.name = m->name;
    m->ctx.module_path = m->path;
    m->ctx.config = m->config;
    m->ctx.generation = generation;
    m->ctx.log = module_log;
    if (m->mod->init) {
        char why[256] = "";
        void *state = NULL;
        r = m->mod->init(&m->ctx, &state, why, sizeof(why));
        if (r < 0) {
            snprintf(err, errlen, "module %s (%s): init failed: %s", path, m->name,
                     why[0] ? why : strerror(-r));
            goto fail;
        }
        m->owner.state = state;
    }
    m->inited = true;
    *ret = m;
    return 0;
fail:
    m->inited = false;
    release(&m->owner);
    return r < 0 ? r : -EINVAL;
}

int baton__web_module_register(struct baton__web_module *m, struct baton__router *router, char *err,
                               size_t errlen)
{
    char why[256];
    if (m->mod->routes) {
        for (const struct baton_route *rt = m->mod->routes; rt->pattern; rt++) {
            int r = baton__router_add(router, rt, &m->owner, why, sizeof(why));
            if (r < 0) {
                snprintf(err, errlen, "module %s (%s): %s", m->path, m->name, why);
                return r;
            }
        }
    }
    if (m->mod->middleware) {
        for (const struct baton_middleware *mw = m->mod->middleware; mw->name; mw++) {
            int r = baton__router_add_middleware(router, mw, &m->owner);
            if (r < 0) {
                snprintf(err, errlen, "module %s (%s): middleware: %s", m->path, m->name,
                         strerror(-r));
                return r;
            }
        }
    }
    return 0;
}

void baton__web_module_put(struct baton__web_module *m)
{
    if (m)
        baton__owner_unref(&m->owner);
}
