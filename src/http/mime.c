/* SPDX-License-Identifier: MIT */
/*
 * Media types of the files a web server commonly serves, looked up by extension with a binary
 * search over a table kept in strcmp order (tests/unit/http/test-static-mime.c checks every
 * entry is found, which fails if the order breaks).
 *
 * Text types carry "; charset=utf-8": without it browsers guess (and guess Windows-1252 for
 * text/plain). "compressible" marks the types worth looking for a .br/.gz sibling of; images,
 * fonts in woff/woff2, audio, video and archives are compressed already.
 */
#include <stddef.h>
#include <string.h>

#include "http/static-internal.h"

struct entry {
    const char *ext;
    struct baton_static_mime mime;
};

#define UTF8 "; charset=utf-8"

static const struct entry table[] = {
    {"7z", {"application/x-7z-compressed", false}},
    {"aac", {"audio/aac", false}},
    {"apng", {"image/apng", false}},
    {"atom", {"application/atom+xml" UTF8, true}},
    {"avif", {"image/avif", false}},
    {"bmp", {"image/bmp", true}},
    {"css", {"text/css" UTF8, true}},
    {"csv", {"text/csv" UTF8, true}},
    {"eot", {"application/vnd.ms-fontobject", true}},
    {"epub", {"application/epub+zip", false}},
    {"flac", {"audio/flac", false}},
    {"gif", {"image/gif", false}},
    {"gz", {"application/gzip", false}},
    {"htm", {"text/html" UTF8, true}},
    {"html", {"text/html" UTF8, true}},
    {"ico", {"image/x-icon", true}},
    {"ics", {"text/calendar" UTF8, true}},
    {"jpeg", {"image/jpeg", false}},
    {"jpg", {"image/jpeg", false}},
    {"js", {"text/javascript" UTF8, true}},
    {"json", {"application/json" UTF8, true}},
    {"jsonld", {"application/ld+json" UTF8, true}},
    {"m4a", {"audio/mp4", false}},
    {"m4v", {"video/mp4", false}},
    {"map", {"application/json" UTF8, true}},
    {"md", {"text/markdown" UTF8, true}},
    {"mjs", {"text/javascript" UTF8, true}},
    {"mov", {"video/quicktime", false}},
    {"mp3", {"audio/mpeg", false}},
    {"mp4", {"video/mp4", false}},
    {"mpeg", {"video/mpeg", false}},
    {"oga", {"audio/ogg", false}},
    {"ogg", {"audio/ogg", false}},
    {"ogv", {"video/ogg", false}},
    {"opus", {"audio/ogg", false}},
    {"otf", {"font/otf", true}},
    {"pdf", {"application/pdf", false}},
    {"png", {"image/png", false}},
    {"rss", {"application/rss+xml" UTF8, true}},
    {"svg", {"image/svg+xml", true}},
    {"tar", {"application/x-tar", true}},
    {"tif", {"image/tiff", false}},
    {"tiff", {"image/tiff", false}},
    {"ttf", {"font/ttf", true}},
    {"txt", {"text/plain" UTF8, true}},
    {"vtt", {"text/vtt" UTF8, true}},
    {"wasm", {"application/wasm", true}},
    {"wav", {"audio/wav", true}},
    {"weba", {"audio/webm", false}},
    {"webm", {"video/webm", false}},
    {"webmanifest", {"application/manifest+json" UTF8, true}},
    {"webp", {"image/webp", false}},
    {"woff", {"font/woff", false}},
    {"woff2", {"font/woff2", false}},
    {"xhtml", {"application/xhtml+xml" UTF8, true}},
    {"xml", {"application/xml" UTF8, true}},
    {"yaml", {"application/yaml" UTF8, true}},
    {"yml", {"application/yaml" UTF8, true}},
    {"zip", {"application/zip", false}},
};

static const struct baton_static_mime octet_stream = {"application/octet-stream", false};

/* Longest extension in the table, plus room: anything longer cannot match. */
#define EXT_MAX 16

const struct baton_static_mime *baton__mime_lookup(const char *name)
{
    const char *base, *dot;
    char ext[EXT_MAX];
    size_t len, lo = 0, hi = sizeof(table) / sizeof(table[0]);

    if (!name)
        return &octet_stream;
    base = strrchr(name, '/');
    base = base ? base + 1 : name;
    dot = strrchr(base, '.');
    /* ".bashrc" has no extension: a leading dot starts a hidden name. */
    if (!dot || dot == base)
        return &octet_stream;
    len = strlen(dot + 1);
    if (len == 0 || len >= EXT_MAX)
        return &octet_stream;
    for (size_t i = 0; i <= len; i++) {
        char c = dot[1 + i];

        ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ext, table[mid].ext);

        if (cmp == 0)
            return &table[mid].mime;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &octet_stream;
}
