/* SPDX-License-Identifier: MIT */
/* The usage texts of `baton` and its commands (the full reference is baton(1)). */
#include "cli/internal.h"

#include <string.h>

static const char overview[] =
    "usage: baton COMMAND [OPTIONS]\n"
    "\n"
    "baton keeps a web service answering while it is updated: the supervisor owns the\n"
    "listening sockets, runs the app's workers and replaces them generation by generation.\n"
    "\n"
    "commands:\n"
    "  run       run the supervisor in the foreground\n"
    "  reload    start a new generation; retire the old one once the new one is ready\n"
    "  status    show the generations and their workers\n"
    "  stop      drain the workers and stop the supervisor\n"
    "  deploy    install a release artifact, switch to it, hold it on probation\n"
    "  rollback  go back to the previous committed release (or a given one)\n"
    "  releases  list the installed releases and their verdicts\n"
    "  logs      show the supervisor's recent log lines (and follow them)\n"
    "  config    validate the configuration and print the merged result\n"
    "  version   print baton's version\n"
    "  help      show the options of a command: baton help COMMAND\n"
    "\n"
    "exit codes: 0 done, 1 failed or refused, 2 usage or configuration error,\n"
    "3 no supervisor reachable. See baton(1).\n";

#define TARGET_OPTIONS                                                                             \
    "  -c, --config FILE   find the control socket in this configuration\n"                        \
    "                      (control.socket; default: ./baton.yaml)\n"                              \
    "  -s, --socket PATH   talk to the supervisor at this control socket\n"                        \
    "                      (default: $BATON_SOCKET; either wins over -c)\n"

static const char run_usage[] =
    "usage: baton run [-c FILE] [--env NAME] [--set KEY=VALUE]...\n"
    "       baton run --listen ADDR... [--workers N] [--ready MODE] -- CMD [ARG...]\n"
    "\n"
    "Runs the supervisor in the foreground until SIGTERM, SIGINT or 'baton stop'.\n"
    "SIGHUP reloads, SIGQUIT stops at once.\n"
    "\n"
    "  -c, --config FILE   the configuration (default: ./baton.yaml)\n"
    "      --env NAME      also read baton.NAME.yaml beside it (default: $BATON_ENV)\n"
    "      --set KEY=VALUE override one setting, like app.workers=4 (repeatable;\n"
    "                      wins over the files and BATON_<SECTION>_<KEY>)\n"
    "      --listen ADDR   without a config file: listen on ADDR (host:port, [::1]:port,\n"
    "                      :port, unix:/path); repeat for more (fds 3, 4, ...)\n"
    "      --workers N     how many workers (app.workers)\n"
    "      --ready MODE    notify (READY=1 from each worker) or delay:DURATION (app.ready)\n"
    "  -h, --help          show this help\n";

static const char reload_usage[] =
    "usage: baton reload [-c FILE | -s SOCKET] [--in-place] [--wait] [--timeout DUR] [--json]\n"
    "\n"
    "Starts a new generation of workers and drains the old one once the new one is ready.\n"
    "A new generation that fails is killed and the old one keeps serving (exit 1).\n"
    "\n" TARGET_OPTIONS "      --in-place      ask the workers to reload without restarting\n"
    "                      (app.reload_signal)\n"
    "      --wait          queue behind a running transition instead of failing as busy\n"
    "      --timeout DUR   give up after DUR (like 30s, 2m)\n"
    "      --json          print the progress events and the result as JSON lines\n"
    "  -h, --help          show this help\n";

static const char status_usage[] =
    "usage: baton status [-c FILE | -s SOCKET] [--json] [--watch]\n"
    "\n"
    "Shows the supervisor, its generations and workers, crash loops, the last reload and\n"
    "the config watch's verdict on the configuration files. Verdicts are coloured on a\n"
    "terminal (not with NO_COLOR set).\n"
    "\n" TARGET_OPTIONS "      --json          print the status as one JSON object\n"
    "  -w, --watch         refresh every 2s (in place on a terminal; --json: one object a line)\n"
    "  -h, --help          show this help\n";

static const char logs_usage[] =
    "usage: baton logs [-c FILE | -s SOCKET] [-f] [-n N] [--json]\n"
    "\n"
    "Shows the supervisor's recent log lines, its own and its workers' tagged output (the\n"
    "last 1000 lines, 256 KiB at most, kept since it started or re-executed).\n"
    "\n" TARGET_OPTIONS
    "  -f, --follow        then print new lines as they come, until the supervisor stops\n"
    "  -n, --lines N       only the last N of the kept lines (0: all, the default)\n"
    "      --json          one JSON object a line, as the supervisor logs them\n"
    "  -h, --help          show this help\n";

static const char stop_usage[] =
    "usage: baton stop [-c FILE | -s SOCKET] [--fast] [--timeout DUR]\n"
    "\n"
    "Stops the supervisor: its workers finish their requests (up to app.drain_timeout),\n"
    "then it exits. Waits until it is gone.\n"
    "\n" TARGET_OPTIONS "      --fast          stop the workers at once, without draining\n"
    "      --timeout DUR   stop waiting after DUR (default: 60s; 0 waits forever)\n"
    "  -h, --help          show this help\n";

static const char version_usage[] = "usage: baton version\n"
                                    "\n"
                                    "Prints baton's version.\n";

/* The synopsis only: `baton config` parses its own options and prints its own help. */
static const char deploy_usage[] =
    "usage: baton deploy ARTIFACT [-c FILE | -s SOCKET] [--version V] [--allow-downgrade]\n"
    "                    [--dry-run] [--wait] [--json]\n"
    "\n"
    "The supervisor verifies ARTIFACT (a .tar.gz, with optional .sha256 and .minisig beside\n"
    "it), extracts it into release.root/releases/VERSION, switches current to it, reloads and\n"
    "holds the new generation on probation; any failure switches back and reloads the previous\n"
    "release. Ctrl-C stops watching, not the deploy. Exit 0 committed, 1 failed or refused.\n"
    "\n" TARGET_OPTIONS
    "      --version V     the release's version (else the signature's trusted comment,\n"
    "                      else the file name NAME-VERSION.tar.gz)\n"
    "      --allow-downgrade  deploy a version not newer than the newest committed one\n"
    "      --dry-run       verify and say what would happen; change nothing\n"
    "      --wait          wait for a running deploy instead of failing with busy\n"
    "      --json          print the progress events and the result as JSON lines\n";

static const char rollback_usage[] =
    "usage: baton rollback [VERSION] [-c FILE | -s SOCKET] [--wait] [--json]\n"
    "\n"
    "Switches current back to the previous committed release (or VERSION, an installed one)\n"
    "and reloads, through the same path as a deploy. Exit 0 done, 1 failed or refused.\n"
    "\n" TARGET_OPTIONS
    "      --wait          wait for a running deploy instead of failing with busy\n"
    "      --json          print the progress events and the result as JSON lines\n";

static const char releases_usage[] =
    "usage: baton releases [-c FILE | -s SOCKET] [--json]\n"
    "\n"
    "Lists the releases of release.root from its journal: version, state, current marker,\n"
    "installed at, sha256, signer key id, verdict and reason.\n"
    "\n" TARGET_OPTIONS "      --json          print the list as one JSON object\n";

static const char config_usage[] =
    "usage: baton config [-c FILE] [--env NAME] [--set KEY=VALUE]... [--json]\n";

static const char *usage_text(enum baton_cli_command topic)
{
    switch (topic) {
    case BATON_CLI_RUN:
        return run_usage;
    case BATON_CLI_RELOAD:
        return reload_usage;
    case BATON_CLI_STATUS:
        return status_usage;
    case BATON_CLI_STOP:
        return stop_usage;
    case BATON_CLI_LOGS:
        return logs_usage;
    case BATON_CLI_VERSION:
        return version_usage;
    case BATON_CLI_CONFIG:
        return config_usage;
    case BATON_CLI_DEPLOY:
        return deploy_usage;
    case BATON_CLI_ROLLBACK:
        return rollback_usage;
    case BATON_CLI_RELEASES:
        return releases_usage;
    case BATON_CLI_USAGE:
    case BATON_CLI_HELP:
        return overview;
    }
    return overview;
}

void baton__cli_usage(FILE *f, enum baton_cli_command topic, bool brief)
{
    const char *text = usage_text(topic), *end = strstr(text, "\n\n");
    const char *name = baton__cli_command_name(topic);

    if (!brief || !end) {
        fputs(text, f);
        return;
    }
    fprintf(f, "%.*s\n\nRun 'baton help%s%s' for more.\n", (int)(end - text), text, name ? " " : "",
            name ? name : "");
}
