/* SPDX-License-Identifier: MIT */
/*
 * parse-frame: runs byte streams through baton-web's request parser (src/http/parser.c) the way
 * a connection does, and prints how it frames each one, so a test can compare the real parser
 * with another one on many cases in one process (tests/integration/test_http_differential.py).
 *
 * Input on stdin, one record per case, integers little-endian:
 *   u32 len, u32 nsplits, nsplits x u32 split offsets (ascending, 0 < off < len), len bytes.
 * The bytes are fed in pieces cut at the split offsets, as successive reads of one connection.
 *
 * Output on stdout, one JSON line per case:
 *   {"r":[REQ...],"end":END[,"st":STATUS,"why":"REASON"]}
 *   REQ = {"m":"GET","t":"<target, hex>","p":"<path, hex>","v":1,"b":"<body, hex>","ka":true,
 *          "e":OFFSET}
 *         t: the target as received; p: its path, decoded and normalised (what routes see);
 *         e: where the next request starts in the stream (bytes consumed so far);
 *   END = "idle"  every byte consumed, no request begun after the last one;
 *         "more"  a request begun and incomplete;
 *         "close" the last request does not keep the connection (what follows is not read);
 *         "error" refused: st is the status answered, why the parser's reason.
 * Limits are baton-web's defaults (BATON__LIMITS_DEFAULT), as a server run without options.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define MAX_CASE   (16u << 20)
#define MAX_SPLITS 4096u

static const struct baton__limits limits = BATON__LIMITS_DEFAULT;

static int read_exact(void *buf, size_t n)
{
    return fread(buf, 1, n, stdin) == n ? 0 : -1;
}

static int read_u32(uint32_t *v)
{
    unsigned char b[4];
    if (read_exact(b, 4) < 0)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static void put_hex(const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        putchar(digits[ch >> 4]);
        putchar(digits[ch & 15]);
    }
}

/* A reason is static ASCII text; anything else is escaped anyway. */
static void put_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void put_request(const struct baton__parser *p, size_t end, bool first)
{
    printf("%s{\"m\":", first ? "" : ",");
    put_string(p->method);
    printf(",\"t\":\"");
    put_hex(p->target, strlen(p->target));
    printf("\",\"p\":\"");
    put_hex(p->path, strlen(p->path));
    printf("\",\"v\":%u,\"b\":\"", p->http_minor);
    put_hex(p->body.data ? p->body.data : "", p->body.len);
    printf("\",\"ka\":%s,\"e\":%zu}", p->keep_alive ? "true" : "false", end);
}

/* Frames one case and prints its line. */
static void frame(const char *data, size_t len, const uint32_t *splits, uint32_t nsplits)
{
    struct baton__parser p;
    baton__parser_init(&p, &limits);
    size_t consumed = 0; /* bytes of the stream the parser has taken */
    size_t piece_end = 0;
    uint32_t next_split = 0;
    unsigned nreq = 0;
    const char *end = NULL;
    printf("{\"r\":[");
    while (!end) {
        if (consumed == piece_end) {
            if (piece_end == len) {
                end = baton__parser_idle(&p) ? "idle" : "more";
                break;
            }
            piece_end = next_split < nsplits ? splits[next_split++] : len;
        }
        size_t used = 0;
        int r = baton__parser_execute(&p, data + consumed, piece_end - consumed, &used);
        if (r == BATON__PARSE_ERROR) {
            end = "error";
            break;
        }
        consumed += used;
        if (r == BATON__PARSE_MORE)
            continue;
        put_request(&p, consumed, nreq++ == 0);
        if (!p.keep_alive) {
            end = "close";
            break;
        }
        baton__parser_next(&p);
    }
    printf("],\"end\":\"%s\"", end);
    if (strcmp(end, "error") == 0) {
        printf(",\"st\":%d,\"why\":", p.error_status);
        put_string(p.error_reason ? p.error_reason : "");
    }
    printf("}\n");
    baton__parser_free(&p);
}

int main(void)
{
    char *data = malloc(MAX_CASE);
    uint32_t *splits = malloc(MAX_SPLITS * sizeof(*splits));
    if (!data || !splits) {
        fprintf(stderr, "parse-frame: out of memory\n");
        return 1;
    }
    uint32_t len;
    while (read_u32(&len) == 0) {
        uint32_t nsplits;
        if (len > MAX_CASE || read_u32(&nsplits) < 0 || nsplits > MAX_SPLITS) {
            fprintf(stderr, "parse-frame: bad record header\n");
            return 1;
        }
        for (uint32_t i = 0; i < nsplits; i++) {
            if (read_u32(&splits[i]) < 0 || splits[i] == 0 || splits[i] >= len ||
                (i && splits[i] <= splits[i - 1])) {
                fprintf(stderr, "parse-frame: bad split offset\n");
                return 1;
            }
        }
        if (read_exact(data, len) < 0) {
            fprintf(stderr, "parse-frame: truncated record\n");
            return 1;
        }
        frame(data, len, splits, nsplits);
    }
    free(data);
    free(splits);
    return fflush(stdout) == 0 ? 0 : 1;
}
