/* SPDX-License-Identifier: MIT */
/* verify-artifact ARTIFACT TRUST_KEY [ITERATIONS]: runs baton_artifact_verify (the deploy
 * library's whole check: SHA-256, .sha256, signature, trusted comment) and prints the best
 * wall time in seconds. Used by bench/deploy-verify. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deploy/deploy.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: verify-artifact ARTIFACT TRUST_KEY [ITERATIONS]\n");
        return 2;
    }
    int iterations = argc > 3 ? atoi(argv[3]) : 3;
    double best = 1e9;
    for (int i = 0; i < iterations; i++) {
        struct baton_verify_request req = {.artifact = argv[1], .trust = argv[2]};
        struct baton_verified v;
        char err[512];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (baton_artifact_verify(&req, &v, err, sizeof(err)) < 0) {
            fprintf(stderr, "verify-artifact: %s\n", err);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        if (t < best)
            best = t;
    }
    printf("%.6f\n", best);
    return 0;
}
