/* SPDX-License-Identifier: MIT */
/*
 * Static files, media types: every extension of the table is found (so the table is sorted
 * for the binary search), charset on text, compressibility, case and the default.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/static-internal.h"

static const struct {
    const char *name, *type;
    bool compressible;
} known[] = {
    {"a.7z", "application/x-7z-compressed", false},
    {"a.aac", "audio/aac", false},
    {"a.apng", "image/apng", false},
    {"a.atom", "application/atom+xml; charset=utf-8", true},
    {"a.avif", "image/avif", false},
    {"a.bmp", "image/bmp", true},
    {"a.css", "text/css; charset=utf-8", true},
    {"a.csv", "text/csv; charset=utf-8", true},
    {"a.eot", "application/vnd.ms-fontobject", true},
    {"a.epub", "application/epub+zip", false},
    {"a.flac", "audio/flac", false},
    {"a.gif", "image/gif", false},
    {"a.gz", "application/gzip", false},
    {"a.htm", "text/html; charset=utf-8", true},
    {"index.html", "text/html; charset=utf-8", true},
    {"favicon.ico", "image/x-icon", true},
    {"a.ics", "text/calendar; charset=utf-8", true},
    {"a.jpeg", "image/jpeg", false},
    {"a.jpg", "image/jpeg", false},
    {"app.js", "text/javascript; charset=utf-8", true},
    {"a.json", "application/json; charset=utf-8", true},
    {"a.jsonld", "application/ld+json; charset=utf-8", true},
    {"a.m4a", "audio/mp4", false},
    {"a.m4v", "video/mp4", false},
    {"app.js.map", "application/json; charset=utf-8", true},
    {"README.md", "text/markdown; charset=utf-8", true},
    {"mod.mjs", "text/javascript; charset=utf-8", true},
    {"a.mov", "video/quicktime", false},
    {"a.mp3", "audio/mpeg", false},
    {"a.mp4", "video/mp4", false},
    {"a.mpeg", "video/mpeg", false},
    {"a.oga", "audio/ogg", false},
    {"a.ogg", "audio/ogg", false},
    {"a.ogv", "video/ogg", false},
    {"a.opus", "audio/ogg", false},
    {"a.otf", "font/otf", true},
    {"a.pdf", "application/pdf", false},
    {"a.png", "image/png", false},
    {"a.rss", "application/rss+xml; charset=utf-8", true},
    {"logo.svg", "image/svg+xml", true},
    {"a.tar", "application/x-tar", true},
    {"a.tif", "image/tiff", false},
    {"a.tiff", "image/tiff", false},
    {"a.ttf", "font/ttf", true},
    {"robots.txt", "text/plain; charset=utf-8", true},
    {"a.vtt", "text/vtt; charset=utf-8", true},
    {"a.wasm", "application/wasm", true},
    {"a.wav", "audio/wav", true},
    {"a.weba", "audio/webm", false},
    {"a.webm", "video/webm", false},
    {"site.webmanifest", "application/manifest+json; charset=utf-8", true},
    {"a.webp", "image/webp", false},
    {"a.woff", "font/woff", false},
    {"a.woff2", "font/woff2", false},
    {"a.xhtml", "application/xhtml+xml; charset=utf-8", true},
    {"sitemap.xml", "application/xml; charset=utf-8", true},
    {"a.yaml", "application/yaml; charset=utf-8", true},
    {"a.yml", "application/yaml; charset=utf-8", true},
    {"a.zip", "application/zip", false},
};

static void test_every_extension(void **state)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const struct baton_static_mime *m = baton__mime_lookup(known[i].name);

        if (strcmp(m->type, known[i].type) != 0)
            fail_msg("%s: got %s, want %s", known[i].name, m->type, known[i].type);
        assert_int_equal(m->compressible, known[i].compressible);
    }
}

static void test_names(void **state)
{
    const char *octet = "application/octet-stream";

    assert_string_equal(baton__mime_lookup("INDEX.HTML")->type, "text/html; charset=utf-8");
    assert_string_equal(baton__mime_lookup("a.Js")->type, "text/javascript; charset=utf-8");
    assert_string_equal(baton__mime_lookup("/dir.d/app.3f9a1c.css")->type,
                        "text/css; charset=utf-8");
    /* The extension is the last one; a dot in a directory name is not an extension. */
    assert_string_equal(baton__mime_lookup("app.css.gz")->type, "application/gzip");
    assert_string_equal(baton__mime_lookup("dir.css/file")->type, octet);
    assert_string_equal(baton__mime_lookup("Makefile")->type, octet);
    assert_string_equal(baton__mime_lookup(".css")->type, octet);
    assert_string_equal(baton__mime_lookup("a.")->type, octet);
    assert_string_equal(baton__mime_lookup("a.exe")->type, octet);
    assert_string_equal(baton__mime_lookup("a.averyveryverylongextension")->type, octet);
    assert_string_equal(baton__mime_lookup("a.htmlx")->type, octet);
    assert_string_equal(baton__mime_lookup("a.ht")->type, octet);
    assert_string_equal(baton__mime_lookup("")->type, octet);
    assert_string_equal(baton__mime_lookup(NULL)->type, octet);
    assert_false(baton__mime_lookup("a.exe")->compressible);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_extension),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
