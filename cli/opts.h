/* SPDX-License-Identifier: MIT */
/* One table-driven option parser for every subcommand. A command describes its options in a
 * table (names, value or flag, help text); the parser walks argv and hands each option and its
 * value to the command's apply function, which stores it in the command's own struct; the help
 * text and the "did you mean" guesses come from the same table.
 *
 * Two styles: CLI_PLAIN ("--name value", "--name=value", "-x value"; a value is the next
 * argument whatever it looks like) for otakit's own commands, and CLI_ARGPARSE for `otakit
 * upload`, which accepts what espota.py's argparse accepts: unique prefixes of long options,
 * clustered short flags ("-dr"), attached values ("-p3232"), and a value that looks like an
 * option is taken for a missing value. */
#ifndef OTK_CLI_OPTS_H
#define OTK_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** One row: an option, or (longn and shortc both empty) a line of the help text only. */
struct cli_opt {
    char shortc;       /* 0: long only */
    const char *longn; /* without the dashes; NULL: a help line */
    const char *arg;   /* the value's name in the help ("PORT"); NULL: a flag; "[S]": an
                          optional value (long form only; apply gets NULL without one) */
    int id;            /* the command's own number for it */
    const char *help;  /* the help text; '\n' starts a continuation line */
};

enum cli_style { CLI_PLAIN, CLI_ARGPARSE };

/** A command's table and how its help looks. */
struct cli_table {
    const char *cmd; /* "device": the name in messages */
    const struct cli_opt *opts;
    size_t n;
    enum cli_style style;
    int help_col;          /* column of the help texts */
    bool indent_long_only; /* long-only options under the long names of "-x, --xx" rows */
};

enum cli_parse_err {
    CLI_PARSE_OK = 0,
    CLI_PARSE_UNKNOWN,      /* no such option (arg) */
    CLI_PARSE_AMBIGUOUS,    /* a prefix of several (candidates) */
    CLI_PARSE_NO_VALUE,     /* the option (opt) needs a value */
    CLI_PARSE_FLAG_VALUE,   /* a flag (opt) given "=value" (CLI_ARGPARSE) */
    CLI_PARSE_AFTER_DASHES, /* an argument after "--" (CLI_ARGPARSE) */
    CLI_PARSE_APPLY,        /* the command's apply function refused: rc */
};

/** Where parsing stopped. */
struct cli_parse {
    enum cli_parse_err err;
    const char *arg;           /* the argument at fault (the whole word, or the short letter's) */
    char shortc;               /* CLI_PARSE_UNKNOWN in a cluster: the letter */
    const struct cli_opt *opt; /* its option, if known */
    const char *value;         /* CLI_PARSE_FLAG_VALUE: the value given */
    char candidates[256];      /* CLI_PARSE_AMBIGUOUS: "--a, --b" */
    int rc;                    /* CLI_PARSE_APPLY: what apply returned */
};

/** What an apply function returns to end the parsing without an error (--help). */
#define CLI_APPLY_STOP (-1)

/** Store one option (opt) with its value (NULL for a flag), or a positional argument (opt
 *  NULL, value the argument). @return 0, CLI_APPLY_STOP, or the command's exit code for a
 *  refusal (the function has said why). */
typedef int (*cli_apply_fn)(void *ctx, const struct cli_opt *opt, const char *value);

/** Walk argv[1..argc) (argv[0] is the command). @return 0, or nonzero with res saying why. */
int cli_parse_args(const struct cli_table *t, int argc, char **argv, cli_apply_fn apply, void *ctx,
                   struct cli_parse *res);

/** The usual words for a parse error of a CLI_PLAIN command: "otakit CMD: error: unknown
 *  option 'ARG'" with "did you mean" from the table, "option ARG needs a value". @return the
 *  exit code (res->rc for a refusal of apply, else OTK_EXIT_USAGE). */
int cli_parse_report(const struct cli_table *t, const struct cli_parse *res);

/** "otakit CMD: error: unknown option 'ARG'" with "did you mean" from the table, and the
 *  pointer to --help. @return OTK_EXIT_USAGE. */
int cli_unknown_arg(const struct cli_table *t, const char *arg);

/** The long option of t that `arg` ("--name" or "--name=value") looks like a typo of, into out
 *  ("--name"). */
bool cli_table_suggest(const struct cli_table *t, const char *arg, char *out, size_t cap);

/** Print the table's rows as help lines. */
void cli_help_rows(FILE *to, const struct cli_table *t, size_t from, size_t to_row);
void cli_help_print(FILE *to, const struct cli_table *t);

#endif
