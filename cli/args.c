/* SPDX-License-Identifier: MIT */
/* Command-line helpers shared by the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *
cli_opt_value(int argc, char **argv, int *i, const char *lng, const char *shrt, bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);

    if (!strncmp(a, lng, n) && a[n] == '=')
        return a + n + 1;
    if (strcmp(a, lng) != 0 && (!shrt || strcmp(a, shrt) != 0))
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "otakit %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'otakit %s --help'.\n", cmd);
    return OTK_EXIT_USAGE;
}
