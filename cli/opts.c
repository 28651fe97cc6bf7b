/* SPDX-License-Identifier: MIT */
/* The option parser of every subcommand (opts.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

static bool
is_help_line(const struct cli_opt *o)
{
    return !o->longn && !o->shortc;
}

/* argparse: an argument that starts with '-' is an option unless it reads as a negative
 * number, so "-a -f x" is "-a" missing its value, not a password "-f". */
static bool
looks_like_option(const char *s)
{
    char *end;

    if (s[0] != '-' || s[1] == 0)
        return false;
    errno = 0;
    (void)strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    return *end != 0 || errno != 0;
}

static int
stop(struct cli_parse *res, enum cli_parse_err err, const char *arg, const struct cli_opt *opt)
{
    res->err = err;
    res->arg = arg;
    res->opt = opt;
    return 1;
}

/* The long option name[0..len): an exact name, or (argparse) the one option it is a prefix of;
 * aliases of one option (same id) count once. */
static const struct cli_opt *
find_long(const struct cli_table *t, const char *name, size_t len, struct cli_parse *res)
{
    const struct cli_opt *hit = NULL;
    int hits = 0;

    for (size_t i = 0; i < t->n; i++)
        if (t->opts[i].longn && strlen(t->opts[i].longn) == len &&
            !memcmp(t->opts[i].longn, name, len))
            return &t->opts[i];
    if (t->style != CLI_ARGPARSE)
        return NULL;
    res->candidates[0] = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct cli_opt *o = &t->opts[i];
        if (!o->longn || strncmp(o->longn, name, len) || (hit && hit->id == o->id))
            continue;
        hit = o;
        hits++;
        size_t used = strlen(res->candidates);
        snprintf(res->candidates + used, sizeof res->candidates - used, "%s--%s", used ? ", " : "",
                 o->longn);
    }
    if (hits > 1) {
        res->err = CLI_PARSE_AMBIGUOUS;
        return NULL;
    }
    return hit;
}

static const struct cli_opt *
find_short(const struct cli_table *t, char c)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->opts[i].shortc == c)
            return &t->opts[i];
    return NULL;
}

/* The value after an option at argv[*i] (none attached): the next argument, if there is one
 * and (argparse) it does not look like an option. */
static const char *
next_value(const struct cli_table *t, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    if (t->style == CLI_ARGPARSE && looks_like_option(argv[*i + 1]))
        return NULL;
    return argv[++*i];
}

/* Hand the option to the command. @return 0 to go on, 1 to stop (res->err says whether it is
 * an error). */
static int
give(const struct cli_opt *o, const char *v, cli_apply_fn apply, void *ctx, const char *arg,
     struct cli_parse *res)
{
    int rc = apply(ctx, o, v);

    if (rc == CLI_APPLY_STOP)
        return 1;
    if (rc) {
        res->rc = rc;
        return stop(res, CLI_PARSE_APPLY, arg, o);
    }
    return 0;
}

/* "--name", "--name=value", "--name value". */
static int
long_option(const struct cli_table *t, int argc, char **argv, int *i, cli_apply_fn apply, void *ctx,
            struct cli_parse *res)
{
    const char *a = argv[*i], *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o = find_long(t, name, len, res);
    const char *v = NULL;

    if (!o)
        return stop(res, res->err == CLI_PARSE_AMBIGUOUS ? CLI_PARSE_AMBIGUOUS : CLI_PARSE_UNKNOWN,
                    a, NULL);
    if (o->arg && o->arg[0] == '[') {
        /* an optional value (argparse's nargs='?'): "--name=v", or the next argument unless it
         * looks like an option */
        if (eq)
            v = eq + 1;
        else if (*i + 1 < argc && !looks_like_option(argv[*i + 1]))
            v = argv[++*i];
    } else if (o->arg) {
        v = eq ? eq + 1 : next_value(t, argc, argv, i);
        if (!v)
            return stop(res, CLI_PARSE_NO_VALUE, a, o);
    } else if (eq) {
        /* a flag with a value: argparse names it; for the others it is no option of theirs */
        res->value = eq + 1;
        return stop(res, t->style == CLI_ARGPARSE ? CLI_PARSE_FLAG_VALUE : CLI_PARSE_UNKNOWN, a,
                    t->style == CLI_ARGPARSE ? o : NULL);
    }
    return give(o, v, apply, ctx, a, res);
}

/* "-x", "-x value"; argparse also "-xyz" (flags) and "-xVALUE", "-x=VALUE". */
static int
short_option(const struct cli_table *t, int argc, char **argv, int *i, cli_apply_fn apply,
             void *ctx, struct cli_parse *res)
{
    const char *a = argv[*i];

    if (t->style != CLI_ARGPARSE && a[2])
        return stop(res, CLI_PARSE_UNKNOWN, a, NULL);
    for (const char *c = a + 1; *c; c++) {
        const struct cli_opt *o = find_short(t, *c);
        const char *v = NULL;
        if (!o) {
            res->shortc = *c;
            return stop(res, CLI_PARSE_UNKNOWN, a, NULL);
        }
        if (o->arg) {
            v = c[1] ? (c[1] == '=' ? c + 2 : c + 1) : next_value(t, argc, argv, i);
            if (!v)
                return stop(res, CLI_PARSE_NO_VALUE, a, o);
        }
        if (give(o, v, apply, ctx, a, res))
            return 1;
        if (o->arg)
            break;
    }
    return 0;
}

int
cli_parse_args(const struct cli_table *t, int argc, char **argv, cli_apply_fn apply, void *ctx,
               struct cli_parse *res)
{
    memset(res, 0, sizeof *res);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc;

        if (t->style == CLI_ARGPARSE && !strcmp(a, "--")) {
            if (i + 1 < argc)
                return stop(res, CLI_PARSE_AFTER_DASHES, argv[i + 1], NULL);
            break;
        }
        if (a[0] == '-' && a[1] == '-')
            rc = long_option(t, argc, argv, &i, apply, ctx, res);
        else if (a[0] == '-' && a[1])
            rc = short_option(t, argc, argv, &i, apply, ctx, res);
        else
            rc = give(NULL, a, apply, ctx, a, res);
        if (rc)
            return res->err != CLI_PARSE_OK;
    }
    return 0;
}

bool
cli_table_suggest(const struct cli_table *t, const char *arg, char *out, size_t cap)
{
    char names[64][CLI_WORD_MAX + 3];
    const char *cands[64];
    size_t n = 0, len = strcspn(arg, "=");
    char word[CLI_WORD_MAX + 1];

    if (strncmp(arg, "--", 2) != 0 || len > CLI_WORD_MAX)
        return false;
    snprintf(word, sizeof word, "%.*s", (int)len, arg);
    for (size_t i = 0; i < t->n && n < 64; i++) {
        const char *l = t->opts[i].longn;
        if (!l || strlen(l) + 2 > CLI_WORD_MAX)
            continue;
        snprintf(names[n], sizeof names[n], "--%s", l);
        if (!strcmp(names[n], word))
            return false; /* a known option */
        cands[n] = names[n];
        n++;
    }
    const char *best = cli_closest_word(word, cands, n);
    if (!best)
        return false;
    snprintf(out, cap, "%s", best);
    return true;
}

int
cli_parse_report(const struct cli_table *t, const struct cli_parse *res)
{
    switch (res->err) {
    case CLI_PARSE_OK:
        return 0;
    case CLI_PARSE_APPLY:
        return res->rc;
    case CLI_PARSE_NO_VALUE:
        return cli_usage_error(t->cmd, "option %s needs a value", res->arg);
    default:
        return cli_unknown_arg(t, res->arg);
    }
}

int
cli_unknown_arg(const struct cli_table *t, const char *arg)
{
    char hint[CLI_WORD_MAX + 3];

    if (cli_table_suggest(t, arg, hint, sizeof hint))
        return cli_usage_error(t->cmd, "unknown option '%s'; did you mean '%s'?", arg, hint);
    return cli_usage_error(t->cmd, "unknown option '%s'", arg);
}

/* ---- help ---- */

static void
help_row(FILE *to, const struct cli_table *t, const struct cli_opt *o)
{
    char left[96];
    int n;

    if (is_help_line(o)) {
        fputs(o->help, to);
        return;
    }
    if (!o->help)
        return; /* an alias: parsed, not shown */
    if (o->shortc)
        n = snprintf(left, sizeof left, "  -%c%s%s", o->shortc, o->longn ? ", --" : "",
                     o->longn ? o->longn : "");
    else
        n = snprintf(left, sizeof left, "%s--%s", t->indent_long_only ? "      " : "  ", o->longn);
    if (o->arg)
        n += snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
    fprintf(to, "%s%*s", left, n < t->help_col ? t->help_col - n : 2, "");
    for (const char *p = o->help; *p;) {
        size_t len = strcspn(p, "\n");
        fprintf(to, "%.*s\n", (int)len, p);
        p += len;
        if (*p == '\n' && *++p)
            fprintf(to, "%*s", t->help_col, "");
    }
}

void
cli_help_rows(FILE *to, const struct cli_table *t, size_t from, size_t to_row)
{
    for (size_t i = from; i < to_row && i < t->n; i++)
        help_row(to, t, &t->opts[i]);
}

void
cli_help_print(FILE *to, const struct cli_table *t)
{
    cli_help_rows(to, t, 0, t->n);
}
