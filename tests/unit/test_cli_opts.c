/* SPDX-License-Identifier: MIT */
/* The subcommands' option parser (cli/opts.c): both styles, the parse errors, the help rows
 * and the typo guesses from the table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

enum { T_PORT, T_JSON, T_HOST_IP, T_HOST_PORT, T_DEBUG, T_HELP };

static const struct cli_opt rows[] = {
    {0, NULL, NULL, 0, "options:\n"},        {'p', "port", "N", T_PORT, "the port\nsecond line"},
    {0, "json", NULL, T_JSON, "JSON"},       {0, "host_ip", "ADDR", T_HOST_IP, "local address"},
    {0, "host-ip", "ADDR", T_HOST_IP, NULL}, {0, "host_port", "N", T_HOST_PORT, "local port"},
    {'d', "debug", NULL, T_DEBUG, "trace"},  {'h', "help", NULL, T_HELP, "this text"},
};

/* What the apply function saw, in order: "id=value" words. */
struct seen {
    char log[512];
    bool refuse; /* refuse the port "bad" */
};

static int
record(void *ctx, const struct cli_opt *op, const char *v)
{
    struct seen *s = ctx;
    size_t n = strlen(s->log);

    snprintf(s->log + n, sizeof s->log - n, "%s%d=%s", n ? " " : "", op ? op->id : -1, v ? v : "-");
    if (op && op->id == T_HELP)
        return CLI_APPLY_STOP;
    if (s->refuse && op && op->id == T_PORT && !strcmp(v, "bad"))
        return 7;
    return 0;
}

static int
run(enum cli_style style, struct seen *s, struct cli_parse *res, const char *const *args)
{
    struct cli_table t = {"test", rows, sizeof rows / sizeof rows[0], style, 20, false};
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)"test";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    memset(s->log, 0, sizeof s->log);
    return cli_parse_args(&t, argc, argv, record, s, res);
}

static void
plain_style(void **state)
{
    struct seen s = {.refuse = true};
    struct cli_parse r;
    (void)state;

    /* "--x v", "--x=v", "-p v"; a value is the next argument whatever it looks like */
    const char *a[] = {"--port", "1", "--host_ip=h", "-p", "-5", "--json", "file", NULL};
    assert_int_equal(run(CLI_PLAIN, &s, &r, a), 0);
    assert_string_equal(s.log, "0=1 2=h 0=-5 1=- -1=file");
    /* no prefixes, no clusters, no flag values */
    const char *b[] = {"--po", "1", NULL};
    assert_int_not_equal(run(CLI_PLAIN, &s, &r, b), 0);
    assert_int_equal(r.err, CLI_PARSE_UNKNOWN);
    assert_string_equal(r.arg, "--po");
    const char *c[] = {"-dp", "1", NULL};
    assert_int_not_equal(run(CLI_PLAIN, &s, &r, c), 0);
    assert_int_equal(r.err, CLI_PARSE_UNKNOWN);
    const char *d[] = {"--json=1", NULL};
    assert_int_not_equal(run(CLI_PLAIN, &s, &r, d), 0);
    assert_int_equal(r.err, CLI_PARSE_UNKNOWN);
    /* a missing value; a refusal keeps the command's code */
    const char *e[] = {"--json", "--port", NULL};
    assert_int_not_equal(run(CLI_PLAIN, &s, &r, e), 0);
    assert_int_equal(r.err, CLI_PARSE_NO_VALUE);
    assert_string_equal(r.arg, "--port");
    const char *f[] = {"--port", "bad", NULL};
    assert_int_not_equal(run(CLI_PLAIN, &s, &r, f), 0);
    assert_int_equal(r.err, CLI_PARSE_APPLY);
    assert_int_equal(r.rc, 7);
    /* --help stops the parsing without an error: nothing after it is read */
    const char *g[] = {"--help", "--nonsense", NULL};
    assert_int_equal(run(CLI_PLAIN, &s, &r, g), 0);
    assert_string_equal(s.log, "5=-");
}

static void
argparse_style(void **state)
{
    struct seen s = {.refuse = false};
    struct cli_parse r;
    (void)state;

    /* unique prefixes (aliases count once), clusters ending in a value, attached values */
    const char *a[] = {"--js", "--host-i", "h", "-dp3232", "-p=1", "-dp", "2", NULL};
    assert_int_equal(run(CLI_ARGPARSE, &s, &r, a), 0);
    assert_string_equal(s.log, "1=- 2=h 4=- 0=3232 0=1 4=- 0=2");
    const char *b[] = {"--host", "x", NULL};
    assert_int_not_equal(run(CLI_ARGPARSE, &s, &r, b), 0);
    assert_int_equal(r.err, CLI_PARSE_AMBIGUOUS);
    assert_string_equal(r.candidates, "--host_ip, --host_port");
    /* a value that looks like an option is a missing value; a negative number is a value */
    const char *c[] = {"--port", "-d", NULL};
    assert_int_not_equal(run(CLI_ARGPARSE, &s, &r, c), 0);
    assert_int_equal(r.err, CLI_PARSE_NO_VALUE);
    const char *d[] = {"--port", "-5", NULL};
    assert_int_equal(run(CLI_ARGPARSE, &s, &r, d), 0);
    assert_string_equal(s.log, "0=-5");
    const char *e[] = {"--json=1", NULL};
    assert_int_not_equal(run(CLI_ARGPARSE, &s, &r, e), 0);
    assert_int_equal(r.err, CLI_PARSE_FLAG_VALUE);
    assert_string_equal(r.value, "1");
    const char *f[] = {"-dx", NULL};
    assert_int_not_equal(run(CLI_ARGPARSE, &s, &r, f), 0);
    assert_int_equal(r.err, CLI_PARSE_UNKNOWN);
    assert_int_equal(r.shortc, 'x');
    const char *g[] = {"--", "late", NULL};
    assert_int_not_equal(run(CLI_ARGPARSE, &s, &r, g), 0);
    assert_int_equal(r.err, CLI_PARSE_AFTER_DASHES);
    assert_string_equal(r.arg, "late");
}

static void
help_and_guesses(void **state)
{
    struct cli_table t = {"test", rows, sizeof rows / sizeof rows[0], CLI_PLAIN, 20, false};
    char buf[1024] = "", hint[64];
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    (void)state;

    assert_non_null(f);
    cli_help_print(f, &t);
    fclose(f);
    assert_string_equal(buf, "options:\n"
                             "  -p, --port N      the port\n"
                             "                    second line\n"
                             "  --json            JSON\n"
                             "  --host_ip ADDR    local address\n"
                             "  --host_port N     local port\n"
                             "  -d, --debug       trace\n"
                             "  -h, --help        this text\n");
    assert_true(cli_table_suggest(&t, "--jsno", hint, sizeof hint));
    assert_string_equal(hint, "--json");
    assert_true(cli_table_suggest(&t, "--prot=1", hint, sizeof hint));
    assert_string_equal(hint, "--port");
    assert_false(cli_table_suggest(&t, "--json", hint, sizeof hint));
    assert_false(cli_table_suggest(&t, "--frobnicate", hint, sizeof hint));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_style),
        cmocka_unit_test(argparse_style),
        cmocka_unit_test(help_and_guesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
