/* SPDX-License-Identifier: MIT */
/* Command-line helpers shared by the subcommands: the usage error, the typo guess. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "otakit/image.h"

static const struct {
    int chip;
    const char *name;
} chip_names[] = {
    {OTK_CHIP_ESP32, "esp32"},     {OTK_CHIP_ESP32S2, "esp32s2"},   {OTK_CHIP_ESP32S3, "esp32s3"},
    {OTK_CHIP_ESP32C2, "esp32c2"}, {OTK_CHIP_ESP32C3, "esp32c3"},   {OTK_CHIP_ESP32C5, "esp32c5"},
    {OTK_CHIP_ESP32C6, "esp32c6"}, {OTK_CHIP_ESP32C61, "esp32c61"}, {OTK_CHIP_ESP32H2, "esp32h2"},
    {OTK_CHIP_ESP32P4, "esp32p4"}, {OTK_CHIP_ESP8266, "esp8266"},
};

int
cli_chip_parse(const char *name)
{
    for (size_t i = 0; i < sizeof chip_names / sizeof chip_names[0]; i++) {
        if (strcasecmp(name, chip_names[i].name) == 0)
            return chip_names[i].chip;
    }
    return OTK_CHIP_UNKNOWN;
}

const char *
cli_chip_str(int chip)
{
    for (size_t i = 0; i < sizeof chip_names / sizeof chip_names[0]; i++) {
        if (chip_names[i].chip == chip)
            return chip_names[i].name;
    }
    return NULL;
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
