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
#include "otakit/imagegen.h"
#include "otakit/layout.h"

static const char help_text[] =
    "usage: otakit image [--chip esp32|esp8266] --version V --size BYTES\n"
    "                    [--project NAME] [--seed N] -o FILE\n"
    "\n"
    "Write a valid ESP application image of exactly BYTES bytes (suffix K or M for\n"
    "KiB / MiB). Different seeds give different contents of the same size.\n"
    "\n"
    "options:\n"
    "  --chip esp32|esp8266   target chip (default esp32)\n"
    "  --version V            version string in the app description (max 31 "
    "chars)\n"
    "  --size BYTES           image size, e.g. 1048576, 1024K, 1M\n"
    "  --project NAME         project name (default otakit-demo, max 31 chars)\n"
    "  --seed N               seed of the filler contents (default 1)\n"
    "  -o, --output FILE      where to write the image\n";

static void
usage(FILE *to)
{
    fputs(help_text, to);
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

int
cmd_image(int argc, char **argv)
{
    enum otk_profile chip = OTK_PROFILE_ESP32;
    const char *version = NULL, *project = "otakit-demo", *output = NULL;
    uint32_t size = 0, seed = 1;
    bool have_size = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing = false;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return OTK_EXIT_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--chip", NULL, &missing))) {
            if (!strcmp(v, "esp32"))
                chip = OTK_PROFILE_ESP32;
            else if (!strcmp(v, "esp8266"))
                chip = OTK_PROFILE_ESP8266;
            else
                return cli_usage_error("image", "unknown chip (esp32 or esp8266): %s", v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--version", NULL, &missing))) {
            version = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--project", NULL, &missing))) {
            project = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--size", NULL, &missing))) {
            if (!parse_size(v, &size))
                return cli_usage_error("image", "bad size (bytes, or with K / M suffix): %s", v);
            have_size = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", NULL, &missing))) {
            char *end;
            errno = 0;
            unsigned long s = strtoul(v, &end, 0);
            if (errno || *end || !*v || s > 0xFFFFFFFFul)
                return cli_usage_error("image", "bad seed: %s", v);
            seed = (uint32_t)s;
        } else if ((v = cli_opt_value(argc, argv, &i, "--output", "-o", &missing))) {
            output = v;
        } else if (missing) {
            return cli_usage_error("image", "option needs a value: %s", argv[i]);
        } else {
            return cli_unknown_option("image", argv[i], help_text);
        }
    }
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
    int len = otk_imagegen(chip, project, version, size, seed, buf, size);
    if (len <= 0) {
        const char *cs = chip == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32";
        if (size < otk_imagegen_min_size(chip) || size > otk_imagegen_max_size(chip))
            fprintf(stderr,
                    "otakit image: error: size %u is outside what an %s image can be (%u .. %u "
                    "bytes)\n",
                    (unsigned)size, cs, (unsigned)otk_imagegen_min_size(chip),
                    (unsigned)otk_imagegen_max_size(chip));
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
    printf("%s: %s image, project %s, version %s, %d bytes\n", output,
           chip == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32", project, version, len);
    return OTK_EXIT_OK;
}
