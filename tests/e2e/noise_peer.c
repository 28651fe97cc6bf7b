/* SPDX-License-Identifier: MIT */
/* One side of a Noise session (src/core/noise.c on the POSIX port's crypto) driven line by line
 * over stdin/stdout, so that tests/e2e/test_noise_python.py can hold a handshake between it and
 * the Python peers of tests/e2e/espeers.py and show that both implementations agree.
 *
 * usage: noise_peer initiator|responder PSK_HEX PROLOGUE_HEX [EPHEMERAL_HEX]
 * commands, one per line, each answered by one line ("error N" on failure, N an otk_err):
 *   w        write our handshake message        -> its 48 bytes in hex
 *   r HEX    read the peer's handshake message  -> "ok"
 *   e HEX    encrypt                            -> ciphertext and tag in hex
 *   d HEX    decrypt                            -> plaintext in hex ("-" when empty)
 *   h        the handshake hash                 -> hex
 *   k        the transport keys                 -> "TX RX" in hex */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/noise.h"
#include "otakit/posix.h"

#define LINE_MAX_BYTES 4096

static uint8_t ephemeral[32];

/* The random op when an ephemeral key was given: it hands out that key. */
static int
fixed_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    if (len != sizeof ephemeral)
        return OTK_ERR_CRYPTO;
    memcpy(buf, ephemeral, len);
    return OTK_OK;
}

static long
unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strspn(hex, "0123456789abcdefABCDEF");
    unsigned v;

    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (long)(n / 2);
}

static void
print_hex(const uint8_t *b, size_t len)
{
    if (len == 0)
        putchar('-');
    for (size_t i = 0; i < len; i++)
        printf("%02x", b[i]);
}

static int
command(struct otk_noise *s, char op, const uint8_t *arg, long n)
{
    static uint8_t out[LINE_MAX_BYTES + OTK_NOISE_TAG_LEN];
    int rc = OTK_OK;

    /* a command whose call failed falls through to the end with rc set */
    if (op == 'w' && (rc = otk_noise_write_handshake(s, out)) == OTK_OK)
        print_hex(out, OTK_NOISE_HANDSHAKE_LEN);
    else if (op == 'r' && (rc = otk_noise_read_handshake(s, arg, (size_t)n)) == OTK_OK)
        fputs("ok", stdout);
    else if (op == 'e' && (rc = otk_noise_encrypt(s, arg, (size_t)n, out)) == OTK_OK)
        print_hex(out, (size_t)n + OTK_NOISE_TAG_LEN);
    else if (op == 'd' && (rc = otk_noise_decrypt(s, arg, (size_t)n, out)) == OTK_OK)
        print_hex(out, (size_t)n - OTK_NOISE_TAG_LEN);
    else if (op == 'h')
        print_hex(s->h, sizeof s->h);
    else if (op == 'k') {
        print_hex(s->tx, sizeof s->tx);
        putchar(' ');
        print_hex(s->rx, sizeof s->rx);
    } else if (!strchr("wred", op))
        rc = OTK_ERR_ARG;
    if (rc != OTK_OK)
        printf("error %d", rc);
    putchar('\n');
    return fflush(stdout);
}

static int
serve(struct otk_noise *s)
{
    static char line[2 * LINE_MAX_BYTES + 8];
    static uint8_t arg[LINE_MAX_BYTES + OTK_NOISE_TAG_LEN];
    long n;

    while (fgets(line, sizeof line, stdin)) {
        n = line[1] == ' ' ? unhex(line + 2, arg, sizeof arg) : 0;
        if (n < 0) {
            printf("error %d\n", OTK_ERR_ARG);
            fflush(stdout);
            continue;
        }
        if (command(s, line[0], arg, n) != 0)
            return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct otk_crypto_ops crypto = *otk_posix_crypto();
    struct otk_noise s;
    uint8_t psk[OTK_NOISE_KEY_LEN], prologue[64];
    long plen;
    int rc;

    if (argc < 4 || argc > 5 || (strcmp(argv[1], "initiator") && strcmp(argv[1], "responder"))) {
        fprintf(stderr, "usage: noise_peer initiator|responder PSK_HEX PROLOGUE_HEX "
                        "[EPHEMERAL_HEX]\n");
        return 2;
    }
    plen = unhex(argv[3], prologue, sizeof prologue);
    if (unhex(argv[2], psk, sizeof psk) != (long)sizeof psk || plen < 0 ||
        (argc == 5 && unhex(argv[4], ephemeral, sizeof ephemeral) != (long)sizeof ephemeral)) {
        fprintf(stderr, "noise_peer: bad hex argument\n");
        return 2;
    }
    if (argc == 5)
        crypto.random = fixed_random;
    rc = otk_noise_start(&s, &crypto, argv[1][0] == 'i', psk, prologue, (size_t)plen);
    if (rc != OTK_OK) {
        fprintf(stderr, "noise_peer: %s\n", otk_strerror(rc));
        return 1;
    }
    return serve(&s);
}
