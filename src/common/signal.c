/* SPDX-License-Identifier: MIT */
/* Signal names: the standard Linux signals, without the "SIG" prefix. */
#include "common/signal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int signo;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int baton__signal_parse(const char *text)
{
    if (!text || !*text)
        return -EINVAL;
    if (strspn(text, "0123456789") == strlen(text)) {
        if (strlen(text) > 2)
            return -EINVAL;
        int n = atoi(text);
        for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
            if (signals[i].signo == n)
                return n;
        return -EINVAL;
    }
    if (strncasecmp(text, "SIG", 3) == 0)
        text += 3;
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (strcasecmp(text, signals[i].name) == 0)
            return signals[i].signo;
    return -EINVAL;
}

const char *baton__signal_name(int signo)
{
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (signals[i].signo == signo)
            return signals[i].name;
    return "UNKNOWN";
}
