/* `baton releases [--json]`: the releases of release.root, from the supervisor (which reads
 * them from the journal through the deploy library). */
#include "cli/internal.h"

#include <libfyaml.h>
#include <string.h>
#include <time.h>

static const char *text(struct fy_node *o, const char *key)
{
    const char *t = baton__json_get_text(o, key);
    return t && *t ? t : "-";
}

int baton__cmd_releases(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct fy_document *doc = NULL;
    struct fy_node *result, *r;
    const char *line;
    static const char req[] = "{\"cmd\":\"releases\"}";
    int code = baton__cli_connect(args, &c);

    if (code != BATON_EXIT_OK)
        goto out;
    code = baton__cli_request(&c, req, sizeof(req) - 1, 0, NULL, NULL, &doc, &result, &line);
    if (code != BATON_EXIT_OK)
        goto out;
    if (baton__json_get_bool(result, "ok") != 1) {
        const char *e = baton__json_get_text(result, "error");
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
    void *it = NULL;
    struct fy_node *list = baton__json_get(result, "releases");
    while (list && (r = baton__json_next(list, &it))) {
        long long at = 0;
        char when[32] = "-";
        if (baton__json_get_int(r, "installed_at", &at) && at > 0) {
            time_t t = (time_t)(at / 1000);
            struct tm tm;
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
        }
        printf("%s %-16s %-10s %-20s %-14.12s %-16s %-12s %s\n",
               baton__json_get_bool(r, "current") == 1 ? "*" : " ", text(r, "version"),
               text(r, "state"), when, text(r, "sha256"), text(r, "key_id"), text(r, "verdict"),
               text(r, "reason"));
    }
out:
    baton__reply_free(doc);
    baton__cli_disconnect(&c);
    return code;
}
