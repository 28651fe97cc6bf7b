/* SPDX-License-Identifier: MIT */
/* `otakit image`: write a valid application image (header, segments, checksum, SHA-256 on ESP32,
 * app description with project and version) of a chosen size, for tests and demos. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/layout.h"

enum image_opt { I_CHIP, I_VERSION, I_SIZE, I_PROJECT, I_SEED, I_OUTPUT, I_HELP };

static const struct cli_opt image_opts_table[] = {
    {0, NULL, NULL, 0,
     "usage: otakit image [--chip CHIP] --version V --size BYTES\n"
     "                    [--project NAME] [--seed N] -o FILE\n"
     "\n"
     "Write a valid ESP application image of exactly BYTES bytes (suffix K or M for\n"
     "KiB / MiB). Different seeds give different contents of the same size.\n"
     "\n"
     "options:\n"},
    {0, "chip", "CHIP", I_CHIP,
     "target chip (default esp32): esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5, esp32c6, "
     "esp32c61, esp32h2, esp32p4, esp8266"},
    {0, "version", "V", I_VERSION, "version string in the app description (max 31 chars)"},
    {0, "size", "BYTES", I_SIZE, "image size, e.g. 1048576, 1024K, 1M"},
    {0, "project", "NAME", I_PROJECT, "project name (default otakit-demo, max 31 chars)"},
    {0, "seed", "N", I_SEED, "seed of the filler contents (default 1)"},
    {'o', "output", "FILE", I_OUTPUT, "where to write the image"},
    {'h', "help", NULL, I_HELP, NULL},
};

static const struct cli_table image_table = {
    .cmd = "image",
    .opts = image_opts_table,
    .n = sizeof image_opts_table / sizeof image_opts_table[0],
    .style = CLI_PLAIN,
    .help_col = 25,
};

static void
usage(FILE *to)
{
    cli_help_print(to, &image_table);
}

/* Decimal bytes with an optional K / M suffix (1024-based; "KB", "KiB" also accepted). */
static bool
parse_size(const char *s, uint32_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024;
    if (mul != 1) {
        end++;
        if (!strcmp(end, "B") || !strcmp(end, "iB") || !strcmp(end, "b"))
            end += strlen(end);
    }
    if (*end)
        return false;
    if (v > 0xFFFFFFFFull / mul)
        return false;
    *out = (uint32_t)(v * mul);
    return true;
}

struct image_opts {
    int chip; /* OTK_CHIP_* */
    const char *version, *project, *output;
    uint32_t size, seed;
    bool have_size, help;
};

static int
image_apply(void *ctx, const struct cli_opt *op, const char *v)
{
    struct image_opts *m = ctx;

    if (!op)
        return cli_unknown_arg(&image_table, v);
    switch (op->id) {
    case I_HELP:
        m->help = true;
        return CLI_APPLY_STOP;
    case I_CHIP:
        m->chip = cli_chip_parse(v);
        if (m->chip == OTK_CHIP_UNKNOWN || !otk_image_chip_known(m->chip))
            return cli_usage_error("image",
                                   "unknown chip: %s (esp32, esp32s2, esp32s3, esp32c2, esp32c3, "
                                   "esp32c5, esp32c6, esp32c61, esp32h2, esp32p4, esp8266)",
                                   v);
        return 0;
    case I_VERSION:
        m->version = v;
        return 0;
    case I_PROJECT:
        m->project = v;
        return 0;
    case I_SIZE:
        if (!parse_size(v, &m->size))
            return cli_usage_error("image", "bad size (bytes, or with K / M suffix): %s", v);
        m->have_size = true;
        return 0;
    case I_SEED: {
        char *end;
        errno = 0;
        unsigned long seed = strtoul(v, &end, 0);
        if (errno || *end || !*v || seed > 0xFFFFFFFFul)
            return cli_usage_error("image", "bad seed: %s", v);
        m->seed = (uint32_t)seed;
        return 0;
    }
    default: /* I_OUTPUT */
        m->output = v;
        return 0;
    }
}

int
cmd_image(int argc, char **argv)
{
    struct image_opts m = {OTK_CHIP_ESP32, NULL, "otakit-demo", NULL, 0, 1, false, false};
    struct cli_parse res;

    if (cli_parse_args(&image_table, argc, argv, image_apply, &m, &res)) {
        if (res.err == CLI_PARSE_NO_VALUE)
            return cli_usage_error("image", "option needs a value: %s", res.arg);
        return cli_parse_report(&image_table, &res);
    }
    if (m.help) {
        usage(stdout);
        return OTK_EXIT_OK;
    }
    int chip = m.chip;
    const char *version = m.version, *project = m.project, *output = m.output;
    uint32_t size = m.size, seed = m.seed;
    bool have_size = m.have_size;
    if (!version)
        return cli_usage_error("image", "--version is required");
    if (!have_size)
        return cli_usage_error("image", "--size is required");
    if (!output)
        return cli_usage_error("image", "-o FILE is required");
    if (strlen(version) > 31)
        return cli_usage_error("image", "version longer than 31 characters: %s", version);
    if (strlen(project) > 31)
        return cli_usage_error("image", "project name longer than 31 characters: %s", project);

    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fprintf(stderr, "otakit image: error: out of memory for %u bytes\n", (unsigned)size);
        return OTK_EXIT_FAIL;
    }
    int len = otk_imagegen_chip(chip, project, version, size, seed, buf, size);
    if (len <= 0) {
        const char *cs = cli_chip_str(chip);
        if (size < otk_imagegen_chip_min_size(chip) || size > otk_imagegen_chip_max_size(chip))
            fprintf(stderr,
                    "otakit image: error: size %u is outside what an %s image can be (%u .. %u "
                    "bytes)\n",
                    (unsigned)size, cs, (unsigned)otk_imagegen_chip_min_size(chip),
                    (unsigned)otk_imagegen_chip_max_size(chip));
        else
            fprintf(stderr, "otakit image: error: cannot make a %s image of %u bytes (%d)\n", cs,
                    (unsigned)size, len);
        free(buf);
        return OTK_EXIT_FAIL;
    }
    FILE *f = fopen(output, "wb");
    if (!f) {
        fprintf(stderr, "otakit image: error: cannot create %s: %s\n", output, strerror(errno));
        free(buf);
        return OTK_EXIT_FAIL;
    }
    size_t w = fwrite(buf, 1, (size_t)len, f);
    int cerr = fclose(f);
    free(buf);
    if (w != (size_t)len || cerr != 0) {
        fprintf(stderr, "otakit image: error: cannot write %s: %s\n", output, strerror(errno));
        return OTK_EXIT_FAIL;
    }
    printf("%s: %s image, project %s, version %s, %d bytes\n", output, cli_chip_str(chip), project,
           version, len);
    return OTK_EXIT_OK;
}
