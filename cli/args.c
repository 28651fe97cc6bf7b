/* SPDX-License-Identifier: MIT */
/* Command-line helpers shared by the subcommands. */
#include <ctype.h>
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

/* Edit distance between a[0..al) and b[0..bl): insertions, deletions, substitutions, and swaps
 * of neighbours ("uplaod"), each counting 1 (optimal string alignment). */
static size_t
edit_distance(const char *a, size_t al, const char *b, size_t bl)
{
    size_t d[CLI_WORD_MAX + 1][CLI_WORD_MAX + 1];

    if (al > CLI_WORD_MAX || bl > CLI_WORD_MAX)
        return (size_t)-1;
    for (size_t i = 0; i <= al; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= bl; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= al; i++) {
        for (size_t j = 1; j <= bl; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[al][bl];
}

/* The closest candidate so far: a typo is 1 edit away, or 2 for words longer than 4. */
struct closest {
    const char *word;
    size_t len;
    const char *best;
    size_t best_len;
    size_t dist;
};

static void
consider(struct closest *c, const char *cand, size_t len)
{
    size_t d = edit_distance(c->word, c->len, cand, len);

    if (d > 0 && d <= (c->len > 4 ? 2u : 1u) && d < c->dist) {
        c->best = cand;
        c->best_len = len;
        c->dist = d;
    }
}

const char *
cli_closest_word(const char *word, const char *const *cands, size_t n)
{
    struct closest c = {word, strlen(word), NULL, 0, (size_t)-1};

    for (size_t i = 0; i < n; i++)
        consider(&c, cands[i], strlen(cands[i]));
    return c.best;
}

/* The long options a help text names: "--word" after a space, '[', '(', ',' or '|'. */
static bool
next_option(const char **p, const char **opt, size_t *len)
{
    for (const char *s = *p; (s = strstr(s, "--")) != NULL; s += 2) {
        size_t n = 2;
        if (s > *p && !strchr(" [(,|", s[-1]))
            continue;
        while (isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '_')
            n++;
        if (n > 2) {
            *opt = s;
            *len = n;
            *p = s + n;
            return true;
        }
    }
    return false;
}

bool
cli_suggest_option(const char *arg, const char *help, char *out, size_t cap)
{
    struct closest c = {arg, strcspn(arg, "="), NULL, 0, (size_t)-1};
    const char *p = help, *opt;
    size_t len;

    if (strncmp(arg, "--", 2) != 0)
        return false;
    while (next_option(&p, &opt, &len)) {
        if (len == c.len && !strncmp(opt, arg, len))
            return false; /* a known option */
        consider(&c, opt, len);
    }
    if (!c.best)
        return false;
    snprintf(out, cap, "%.*s", (int)c.best_len, c.best);
    return true;
}

int
cli_unknown_option(const char *cmd, const char *arg, const char *help)
{
    char hint[CLI_WORD_MAX + 1];

    if (cli_suggest_option(arg, help, hint, sizeof hint))
        return cli_usage_error(cmd, "unknown option '%s'; did you mean '%s'?", arg, hint);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}
