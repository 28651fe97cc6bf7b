/* SPDX-License-Identifier: MIT */
/* bench_bruteforce: how long an online password guesser needs against the device engine.
 *
 * The device engine (otk_dev_*) runs in process on the unit tests' rig (fake network, RAM
 * flash, virtual clock). The attacker knows nothing of the throttle: it sends an invitation
 * every RETRY_MS of virtual time; whenever one is answered with a challenge it sends a wrong
 * answer of the right length (so the device computes and compares the digest). The figure is
 * the virtual time until the device has answered GUESSES of them "Authentication Failed".
 *
 * Also printed: the device's own CPU cost per wrong answer on this host (what bounds an
 * unthrottled attack besides the network), and the offline rate of testing candidate passwords
 * against one sniffed exchange, which no device-side measure can slow down. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helper_rig.h"
#include "otakit/err.h"
#include "otakit/posix.h"

#define RETRY_MS   10u
#define WINDOW_MS  30000u /* the guess rate is counted per 30 s of virtual time */
#define WINDOWS    20u
#define MAX_SOURCE 64u

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result {
    uint64_t virtual_ms; /* until the last guess was refused */
    unsigned long invitations;
    unsigned long heard;
    double cpu_answer_s; /* host time spent handling the wrong answers */
    unsigned long mutations;
    unsigned window[WINDOWS]; /* wrong guesses checked in each 30 s, from the start */
};

static void
attack(enum otk_auth_variant v, unsigned sources, unsigned guesses, struct result *res)
{
    struct rig_opts o;
    struct rig *r;
    struct otk_addr src[MAX_SOURCE];
    char invite[100], answer[200], zeros[65], cnonce[65];
    size_t hl = otk_auth_hex_len(v);
    size_t inv_len;
    unsigned done = 0;
    uint64_t t = 0;
    const uint32_t t0 = 1000;

    rig_opts_default(&o, OTK_PROFILE_ESP32, v, "OTAPASSWORD");
    r = rig_new_opts(&o);
    for (unsigned i = 0; i < sources; i++) {
        char ip[20];

        snprintf(ip, sizeof ip, "10.1.%u.%u", i / 200u, i % 200u + 1);
        src[i] = fakenet_addr(ip, 40000);
    }
    memset(zeros, '0', hl);
    zeros[hl] = '\0';
    memset(cnonce, 'c', hl);
    cnonce[hl] = '\0';
    otk_proto_format_auth(answer, sizeof answer, cnonce, zeros, hl);
    inv_len =
        otk_proto_format_invite(invite, sizeof invite, OTK_CMD_FLASH, 48266, r->img_size, r->md5);
    memset(res, 0, sizeof *res);
    while (done < guesses) {
        for (unsigned i = 0; i < sources && done < guesses; i++) {
            double a;

            r->now = t0 + (uint32_t)t;
            r->net.n_dgrams = 0;
            otk_dev_on_datagram(&r->dev, &src[i], (const uint8_t *)invite, inv_len, r->now);
            res->invitations++;
            if (r->net.n_dgrams == 0)
                continue; /* ignored: throttled */
            if (strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) != 0) {
                fprintf(stderr, "bench_bruteforce: unexpected reply \"%s\"\n",
                        fakenet_last_dgram(&r->net));
                exit(1);
            }
            res->heard++;
            a = now_s();
            rig_send_dgram(r, &src[i], answer);
            res->cpu_answer_s += now_s() - a;
            if (strcmp(fakenet_last_dgram(&r->net), "Authentication Failed") != 0) {
                fprintf(stderr, "bench_bruteforce: a wrong answer was not refused\n");
                exit(1);
            }
            done++;
            res->virtual_ms = t;
            if (t / WINDOW_MS < WINDOWS)
                res->window[t / WINDOW_MS]++;
        }
        t += RETRY_MS;
    }
    res->mutations = r->flash.mutations;
    rig_free(r);
}

/* Offline: candidate passwords tested per second against one captured exchange, one core. */
static double
offline_rate(enum otk_auth_variant v, unsigned n)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    const char *nonce = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *cnonce = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    size_t hl = otk_auth_hex_len(v);
    char secret[65], resp[65], pw[32];
    unsigned hits = 0;
    double t = now_s();

    for (unsigned i = 0; i < n; i++) {
        size_t sl, pl = (size_t)snprintf(pw, sizeof pw, "guess%u", i);

        sl = otk_proto_password_secret(c, v, pw, pl, secret);
        if (otk_proto_auth_response(c, v, secret, sl, nonce, hl, cnonce, hl, resp) != OTK_OK)
            exit(1);
        hits += resp[0] == '0'; /* keep the work observable */
    }
    (void)hits;
    return n / (now_s() - t);
}

static void
print_time(uint64_t ms)
{
    double s = (double)ms / 1000.0;

    if (s >= 3600)
        printf("%10.0f s (%5.1f h)", s, s / 3600);
    else
        printf("%10.1f s (%5.1f m)", s, s / 60);
}

int
main(int argc, char **argv)
{
    unsigned guesses = 1000;
    struct result single = {0};
    bool bad = false;
    static const struct {
        enum otk_auth_variant v;
        unsigned sources;
    } runs[] = {{OTK_AUTH_MD5, 1}, {OTK_AUTH_PBKDF2, 1}, {OTK_AUTH_MD5, 4}, {OTK_AUTH_MD5, 16}};

    if (argc > 1) {
        char *end;
        unsigned long v = strtoul(argv[1], &end, 10);

        if (*end != '\0' || v == 0 || v > 100000) {
            fprintf(stderr, "usage: bench_bruteforce [GUESSES]   (default 1000)\n");
            return 2;
        }
        guesses = (unsigned)v;
    }
    printf("online brute force against the device engine (virtual clock): the attacker re-sends "
           "its invitation every %u ms\nand answers every challenge wrongly; time until %u wrong "
           "answers were refused\n\n",
           RETRY_MS, guesses);
    printf("%-8s %-7s %23s %12s %12s %11s %15s\n", "variant", "sources", "time for all guesses",
           "per guess", "invitations", "answered", "device CPU/guess");
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct result res;

        attack(runs[i].v, runs[i].sources, guesses, &res);
        printf("%-8s %-7u ", runs[i].v == OTK_AUTH_MD5 ? "MD5" : "PBKDF2", runs[i].sources);
        print_time(res.virtual_ms);
        printf(" %10.1f s %12lu %11lu %12.3f ms\n", (double)res.virtual_ms / 1000.0 / guesses,
               res.invitations, res.heard, res.cpu_answer_s * 1000.0 / guesses);
        if (res.mutations != 0) {
            printf("  FAILED: wrong answers changed the flash (%lu mutations)\n", res.mutations);
            bad = true;
        }
        if (i == 0)
            single = res;
    }
    /* The rate bound of docs/SECURITY.md, window by window: the delays start at nothing, so
     * the first minute lets more through than the steady state. */
    for (unsigned sources = 4; sources <= MAX_SOURCE; sources *= 4) {
        struct result res;
        unsigned steady = 0;

        attack(OTK_AUTH_MD5, sources, 400, &res);
        printf("\n%u sources, wrong guesses checked per 30 s:", sources);
        for (unsigned w = 0; w < 10; w++)
            printf(" %u", res.window[w]);
        for (unsigned w = 2; w < WINDOWS; w++)
            steady = res.window[w] > steady ? res.window[w] : steady;
        printf(" ...; at most %u per 30 s from the second minute on", steady);
        bad |= res.mutations != 0;
    }
    printf("\n\nflash erases/writes caused by the wrong answers: 0 in every run%s\n",
           bad ? " - NOT TRUE, see above" : "");
    printf("offline, against one sniffed exchange (this host, one core, mbedTLS): MD5 variant "
           "%.0f passwords/s, PBKDF2 variant %.0f passwords/s\n",
           offline_rate(OTK_AUTH_MD5, 200000), offline_rate(OTK_AUTH_PBKDF2, 50));
    printf("\nbruteforce: %u wrong guesses from one source take %.0f s (%.1f h) of device time\n",
           guesses, (double)single.virtual_ms / 1000.0, (double)single.virtual_ms / 3.6e6);
    return bad ? 1 : 0;
}
