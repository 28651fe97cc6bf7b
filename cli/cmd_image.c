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
#include "otakit/sigtool.h"

enum image_opt {
    I_CHIP,
    I_VERSION,
    I_SIZE,
    I_PROJECT,
    I_SEED,
    I_OUTPUT,
    I_SIGN,
    I_FORMAT,
    I_INPUT,
    I_GEN_KEY,
    I_PUBLIC,
    I_HELP
};

static const struct cli_opt image_opts_table[] = {
    {0, NULL, NULL, 0,
     "usage: otakit image [--chip CHIP] --version V --size BYTES\n"
     "                    [--project NAME] [--seed N] [--sign KEY.pem [--format F]] -o FILE\n"
     "       otakit image --input IMAGE --sign KEY.pem [--format F] -o FILE\n"
     "       otakit image --gen-key rsa3072|rsa2048|p256 -o KEY.pem\n"
     "       otakit image --public-key KEY.pem -o PUBLIC.pem\n"
     "\n"
     "Write a valid ESP application image of exactly BYTES bytes (suffix K or M for\n"
     "KiB / MiB). Different seeds give different contents of the same size. With\n"
     "--sign the image (made here, or read with --input) is signed: ESP-IDF Secure Boot\n"
     "V2 (RSA-3072 or P-256 key; the default for esp32) or the ESP8266 Arduino format\n"
     "(RSA key; the default for esp8266 and for an --input that is an ESP8266 app or gzip).\n"
     "\n"
     "options:\n"},
    {0, "chip", "CHIP", I_CHIP,
     "target chip (default esp32): esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5, esp32c6, "
     "esp32c61, esp32h2, esp32p4, esp8266"},
    {0, "version", "V", I_VERSION, "version string in the app description (max 31 chars)"},
    {0, "size", "BYTES", I_SIZE, "image size, e.g. 1048576, 1024K, 1M"},
    {0, "project", "NAME", I_PROJECT, "project name (default otakit-demo, max 31 chars)"},
    {0, "seed", "N", I_SEED, "seed of the filler contents (default 1)"},
    {'o', "output", "FILE", I_OUTPUT, "where to write the image (or the key)"},
    {0, "sign", "KEY.pem", I_SIGN, "sign the image with this private key"},
    {0, "format", "F", I_FORMAT, "sbv2, esp8266 or esp8266-legacy (core <= 2.5.2)"},
    {0, "input", "IMAGE", I_INPUT, "sign this image file instead of making one"},
    {0, "gen-key", "TYPE", I_GEN_KEY, "write a new private key: rsa3072, rsa2048 or p256"},
    {0, "public-key", "KEY.pem", I_PUBLIC, "write the public half of KEY.pem"},
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
    const char *sign_key, *input, *gen_key, *public_of;
    int format; /* enum otk_sign_as, or -1: the chip's */
};

static int
parse_format(struct image_opts *m, const char *v)
{
    if (!strcmp(v, "sbv2"))
        m->format = OTK_SIGN_SBV2;
    else if (!strcmp(v, "esp8266"))
        m->format = OTK_SIGN_ESP8266;
    else if (!strcmp(v, "esp8266-legacy"))
        m->format = OTK_SIGN_ESP8266_LEGACY;
    else
        return cli_usage_error("image", "unknown format (sbv2, esp8266, esp8266-legacy): %s", v);
    return 0;
}

static int
image_apply_seed(struct image_opts *m, const char *v)
{
    char *end;
    errno = 0;
    unsigned long seed = strtoul(v, &end, 0);
    if (errno || *end || !*v || seed > 0xFFFFFFFFul)
        return cli_usage_error("image", "bad seed: %s", v);
    m->seed = (uint32_t)seed;
    return 0;
}

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
    case I_SEED:
        return image_apply_seed(m, v);
    case I_SIGN:
        m->sign_key = v;
        return 0;
    case I_FORMAT:
        return parse_format(m, v);
    case I_INPUT:
        m->input = v;
        return 0;
    case I_GEN_KEY:
        m->gen_key = v;
        return 0;
    case I_PUBLIC:
        m->public_of = v;
        return 0;
    default: /* I_OUTPUT */
        m->output = v;
        return 0;
    }
}

static int
write_output(const char *output, const void *data, size_t len)
{
    FILE *f = fopen(output, "wb");
    if (!f) {
        fprintf(stderr, "otakit image: error: cannot create %s: %s\n", output, strerror(errno));
        return OTK_EXIT_FAIL;
    }
    size_t w = fwrite(data, 1, len, f);
    int cerr = fclose(f);
    if (w != len || cerr != 0) {
        fprintf(stderr, "otakit image: error: cannot write %s: %s\n", output, strerror(errno));
        return OTK_EXIT_FAIL;
    }
    return OTK_EXIT_OK;
}

/* --gen-key TYPE: a new private key, PEM. */
static int
gen_key(const struct image_opts *m)
{
    static char pem[16384];
    char err[160];
    enum otk_keykind kind = OTK_KEY_RSA;
    unsigned bits = 0;

    if (!strcmp(m->gen_key, "rsa3072"))
        bits = 3072;
    else if (!strcmp(m->gen_key, "rsa2048"))
        bits = 2048;
    else if (!strcmp(m->gen_key, "p256"))
        kind = OTK_KEY_P256;
    else
        return cli_usage_error("image", "unknown key type (rsa3072, rsa2048, p256): %s",
                               m->gen_key);
    if (otk_hostkey_generate(kind, bits, pem, sizeof pem, err, sizeof err) != 0) {
        fprintf(stderr, "otakit image: error: %s\n", err);
        return OTK_EXIT_FAIL;
    }
    if (write_output(m->output, pem, strlen(pem)) != OTK_EXIT_OK)
        return OTK_EXIT_FAIL;
    printf("%s: %s private key (keep it secret; give devices its public half: --public-key)\n",
           m->output, m->gen_key);
    return OTK_EXIT_OK;
}

static int
load_key(const char *path, struct otk_hostkey *k)
{
    char err[160];

    if (otk_hostkey_load(k, path, err, sizeof err) != 0) {
        fprintf(stderr, "otakit image: error: %s: %s\n", path, err);
        return OTK_EXIT_FAIL;
    }
    return OTK_EXIT_OK;
}

/* --public-key KEY.pem: its public half, PEM. */
static int
public_key(const struct image_opts *m)
{
    static char pem[8192];
    struct otk_hostkey k;
    char err[160];
    int rc;

    if (load_key(m->public_of, &k) != OTK_EXIT_OK)
        return OTK_EXIT_FAIL;
    rc = otk_hostkey_public_pem(&k, pem, sizeof pem, err, sizeof err);
    otk_hostkey_free(&k);
    if (rc != 0) {
        fprintf(stderr, "otakit image: error: %s\n", err);
        return OTK_EXIT_FAIL;
    }
    return write_output(m->output, pem, strlen(pem));
}

static uint8_t *
make_image(const struct image_opts *m, int *len_out)
{
    int chip = m->chip;
    uint32_t size = m->size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fprintf(stderr, "otakit image: error: out of memory for %u bytes\n", (unsigned)size);
        return NULL;
    }
    int len = otk_imagegen_chip(chip, m->project, m->version, size, m->seed, buf, size);
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
        return NULL;
    }
    *len_out = len;
    return buf;
}

static uint8_t *
read_input(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        n == 0 || n > 64L * 1024 * 1024 || !(buf = malloc((size_t)n)) ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "otakit image: error: cannot read %s%s%s\n", path, errno ? ": " : "",
                errno ? strerror(errno) : " (empty, larger than 64 MB, or not a file)");
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

static const char *const sign_names[] = {"Secure Boot V2", "ESP8266", "ESP8266 legacy"};

/* Sign buf with --sign's key and write it to -o. */
static int
sign_and_write(const struct image_opts *m, const uint8_t *buf, size_t len)
{
    enum otk_sign_as as = m->format >= 0                ? (enum otk_sign_as)m->format
                          : m->chip == OTK_CHIP_ESP8266 ? OTK_SIGN_ESP8266
                                                        : OTK_SIGN_SBV2;
    struct otk_hostkey k;
    uint8_t *out;
    size_t out_len;
    char err[200];
    int rc;

    if (load_key(m->sign_key, &k) != OTK_EXIT_OK)
        return OTK_EXIT_FAIL;
    rc = otk_sign_image(&k, as, buf, len, &out, &out_len, err, sizeof err);
    otk_hostkey_free(&k);
    if (rc != 0) {
        fprintf(stderr, "otakit image: error: %s: %s\n", m->sign_key, err);
        return OTK_EXIT_FAIL;
    }
    rc = write_output(m->output, out, out_len);
    free(out);
    if (rc == OTK_EXIT_OK)
        printf("%s: signed (%s, %s key), %zu bytes\n", m->output, sign_names[as],
               k.kind == OTK_KEY_P256 ? "ECDSA P-256"
               : k.bits == 3072       ? "RSA-3072"
                                      : "RSA",
               out_len);
    return rc;
}

/* --input IMAGE --sign KEY: sign an existing file. */
static int
sign_input(const struct image_opts *m)
{
    struct image_opts with_chip = *m;
    size_t len;
    uint8_t *buf = read_input(m->input, &len);
    int rc;

    if (!buf)
        return OTK_EXIT_FAIL;
    /* without --format the file's chip decides: an ESP8266 app (or a gzip file, which only
     * ESP8266 devices take) gets the ESP8266 format */
    if (otk_image_chip(buf, len) == OTK_CHIP_ESP8266 ||
        (len >= 2 && buf[0] == 0x1F && buf[1] == 0x8B))
        with_chip.chip = OTK_CHIP_ESP8266;
    rc = sign_and_write(&with_chip, buf, len);
    free(buf);
    return rc;
}

static int
check_make_args(const struct image_opts *m)
{
    if (!m->version)
        return cli_usage_error("image", "--version is required");
    if (!m->have_size)
        return cli_usage_error("image", "--size is required");
    if (strlen(m->version) > 31)
        return cli_usage_error("image", "version longer than 31 characters: %s", m->version);
    if (strlen(m->project) > 31)
        return cli_usage_error("image", "project name longer than 31 characters: %s", m->project);
    return 0;
}

static int
make_and_write(const struct image_opts *m)
{
    int len, rc = check_make_args(m);
    uint8_t *buf;

    if (rc)
        return rc;
    buf = make_image(m, &len);
    if (!buf)
        return OTK_EXIT_FAIL;
    if (m->sign_key) {
        rc = sign_and_write(m, buf, (size_t)len);
        free(buf);
        return rc;
    }
    rc = write_output(m->output, buf, (size_t)len);
    free(buf);
    if (rc == OTK_EXIT_OK)
        printf("%s: %s image, project %s, version %s, %d bytes\n", m->output, cli_chip_str(m->chip),
               m->project, m->version, len);
    return rc;
}

int
cmd_image(int argc, char **argv)
{
    struct image_opts m = {OTK_CHIP_ESP32, NULL, "otakit-demo", NULL, 0,    1, false,
                           false,          NULL, NULL,          NULL, NULL, -1};
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
    if (!m.output)
        return cli_usage_error("image", "-o FILE is required");
    if (m.gen_key)
        return gen_key(&m);
    if (m.public_of)
        return public_key(&m);
    if (m.input && !m.sign_key)
        return cli_usage_error("image", "--input needs --sign KEY.pem");
    if (m.format >= 0 && !m.sign_key)
        return cli_usage_error("image", "--format needs --sign KEY.pem");
    if (m.input)
        return sign_input(&m);
    return make_and_write(&m);
}
