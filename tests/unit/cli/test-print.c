/* SPDX-License-Identifier: MIT */
/* The human output of reload results (print.c): the one-line success summary and the details
 * of a failure, from reply lines as the supervisor sends them (docs/protocol.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/control-client.h"
#include "cli/internal.h"

enum { SUCCESS, FAILURE };

/* Prints `reply` one way or the other and compares the output with `want`. */
static void prints(int how, const char *reply, const char *indent, const char *want)
{
    struct baton_doc *doc = NULL;
    struct baton_buf err = BATON_BUF_INIT(1024);
    char *text = NULL;
    size_t size = 0;

    assert_int_equal(baton__reply_parse(reply, strlen(reply), &doc, &err), 0);
    baton__buf_free(&err);
    const struct baton_doc_node *root = baton__doc_root(doc);
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    if (how == SUCCESS)
        baton__cli_print_success(f, root);
    else
        baton__cli_print_failure(f, root, indent);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, want);
    free(text);
    baton__doc_free(doc);
}

static void success_lines(void **state)
{
    prints(SUCCESS,
           "{\"ok\":true,\"generation\":4,\"previous\":3,\"verdict\":\"ready\","
           "\"timings\":{\"ready_ms\":35,\"total_ms\":1250}}",
           NULL, "generation 4 is serving (replaced generation 3; ready in 35ms, 1.2s in all)\n");
    /* The supervisor's own message says what became of the previous generation. */
    prints(SUCCESS,
           "{\"ok\":true,\"generation\":4,\"previous\":3,\"timings\":{\"ready_ms\":61000},"
           "\"msg\":\"reloaded in place: generation 3 keeps serving\"}",
           NULL, "reloaded in place: generation 3 keeps serving (ready in 1m1s)\n");
    prints(SUCCESS, "{\"ok\":true,\"generation\":1,\"previous\":0}", NULL,
           "generation 1 is serving\n");
    prints(SUCCESS, "{\"ok\":true}", NULL, "done\n");
    prints(SUCCESS, "{\"ok\":true,\"msg\":\"\",\"timings\":{\"total_ms\":7200000}}", NULL,
           "done (2h0m in all)\n");
}

static void failure_details(void **state)
{
    prints(FAILURE,
           "{\"ok\":false,\"generation\":5,\"verdict\":\"failed\",\"reason\":{\"cause\":\"exit\","
           "\"exit_status\":3,\"status\":\"loading model\",\"stderr\":[\"first\",\"\",\"last\"]},"
           "\"msg\":\"rolled back: generation 4 keeps serving\"}",
           "  ",
           "  cause: exit, exit status 3\n"
           "  last STATUS=loading model\n"
           "  stderr (last lines):\n"
           "    | first\n"
           "    | \n"
           "    | last\n"
           "  rolled back: generation 4 keeps serving\n");
    /* A signal with or without its SIG prefix; a timeout says which setting it ran into. */
    prints(FAILURE, "{\"ok\":false,\"reason\":{\"cause\":\"signal\",\"signal\":\"KILL\"}}", "",
           "cause: signal, signal SIGKILL\n");
    prints(FAILURE, "{\"ok\":false,\"reason\":{\"cause\":\"signal\",\"signal\":\"SIGSEGV\"}}", "> ",
           "> cause: signal, signal SIGSEGV\n");
    prints(FAILURE, "{\"ok\":false,\"reason\":{\"cause\":\"timeout\",\"status\":\"\"}}", "",
           "cause: timeout (not ready within app.ready_timeout)\n");
    prints(FAILURE,
           "{\"ok\":false,\"reason\":{\"cause\":\"exec\",\"errno\":\"No such file or directory\"}}",
           "", "cause: exec, No such file or directory\n");
    /* No reason at all: only the message. */
    prints(FAILURE, "{\"ok\":false,\"error\":\"busy\",\"msg\":\"a reload is running\"}", "",
           "a reload is running\n");
    prints(FAILURE, "{\"ok\":false}", "", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_lines),
        cmocka_unit_test(failure_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
