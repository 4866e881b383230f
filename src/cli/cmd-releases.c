/* SPDX-License-Identifier: MIT */
/* `baton releases [--json]`: the releases of release.root, from the supervisor (which reads
 * them from the journal through the deploy library). */
#include "cli/internal.h"

#include <string.h>
#include <time.h>

static const char *text(const struct baton_doc_node *o, const char *key)
{
    const char *t = baton__cli_text(o, key, NULL);
    return t && *t ? t : "-";
}

int baton__cmd_releases(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *result, *r = NULL, *list;
    const char *line;
    static const char req[] = "{\"cmd\":\"releases\"}";
    int code = baton__cli_connect(args, &c);

    if (code != BATON_EXIT_OK)
        goto out;
    code = baton__cli_request(&c, req, sizeof(req) - 1, 0, NULL, NULL, &doc, &result, &line);
    if (code != BATON_EXIT_OK)
        goto out;
    if (!baton__cli_true(result, "ok")) {
        const char *e = baton__cli_text(result, "error", NULL);
        fprintf(stderr, "baton: %s\n", e ? e : "failed");
        code = BATON_EXIT_FAILED;
        goto out;
    }
    if (args->json) {
        printf("%s\n", line);
        goto out;
    }
    printf("  %-16s %-10s %-20s %-14s %-16s %-12s %s\n", "VERSION", "STATE", "INSTALLED", "SHA256",
           "KEY", "VERDICT", "REASON");
    if (baton__doc_get_array(result, "releases", &list, NULL, 0) < 0)
        list = NULL;
    while (list && (r = baton__doc_next(list, r))) {
        long long at = 0;
        char when[32] = "-";
        if (baton__cli_int(r, "installed_at", &at) && at > 0) {
            time_t t = (time_t)(at / 1000);
            struct tm tm;
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
        }
        printf("%s %-16s %-10s %-20s %-14.12s %-16s %-12s %s\n",
               baton__cli_true(r, "current") ? "*" : " ", text(r, "version"), text(r, "state"),
               when, text(r, "sha256"), text(r, "key_id"), text(r, "verdict"), text(r, "reason"));
    }
out:
    baton__doc_free(doc);
    baton__cli_disconnect(&c);
    return code;
}
