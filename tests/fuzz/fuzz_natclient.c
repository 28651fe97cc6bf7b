/* SPDX-License-Identifier: MIT */
/* The uploader's native-protocol machine (natclient.h) against whatever a device may answer:
 * the first bytes choose the upload (password, key, gzip copy, window, image size, how the
 * answers are cut, when the transport takes only part of the output), the rest is the device's
 * byte stream, fed between the machine's sends. Invariants, after every step:
 * - no image byte before the device's 43 (MD5 accepted), never more than the stream's size, and
 *   the data on the wire is the stream itself, in order;
 * - with a key, nothing but the magic, the feature byte and the handshake frame goes out until
 *   the handshake succeeded (no size, no image in plaintext);
 * - acks never stand for more chunks than were handed over (counted from the resume offset when
 *   the device named one: otakit's RESUME, asked for by flag 0x40), and success means every
 *   byte from the offset on went out and the device said 44 and 45;
 * - the machine ends: once the input is spent, time runs on until it is done, and then it has
 *   nothing more to send. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/natclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE_MAX (40u * 1024u)

struct run {
    struct otk_natc c;
    const uint8_t *stream; /* what the data must be: the image, or the gzip copy */
    uint32_t data_seen;    /* data bytes seen on the wire (plaintext runs) */
    size_t wire;           /* all bytes that went out */
    bool keyed;
    uint32_t now;
};

static void
check(struct run *r)
{
    const struct otk_natc *c = &r->c;
    uint32_t chunks = (c->data_size + OTK_NAT_CHUNK - 1) / OTK_NAT_CHUNK;

    FUZZ_CHECK(c->sent <= c->data_size);
    FUZZ_CHECK(c->acks <= chunks && c->acked <= c->data_size);
    FUZZ_CHECK(c->resume_at <= c->sent && (c->resume_at == 0 || c->resume_at < c->data_size));
    FUZZ_CHECK(c->acks <= (c->sent - c->resume_at + OTK_NAT_CHUNK - 1) / OTK_NAT_CHUNK);
    if (c->sent)
        FUZZ_CHECK(c->phase >= OTK_NATC_DATA ||
                   (c->phase == OTK_NATC_DONE && c->end_phase >= OTK_NATC_DATA));
    /* with a key, before the handshake: magic, features, frame 1 (3 + 1 + 48) at most */
    if (r->keyed && !c->encrypted)
        FUZZ_CHECK(r->wire <= 5 + 1 + 52);
    if (otk_natc_done(c) && c->cause == OTK_NATC_OK)
        FUZZ_CHECK(c->all_sent && c->receive_ok && c->sent == c->data_size);
}

/* The transport takes up to `take` bytes (0: everything). */
static void
pump(struct run *r, size_t take)
{
    const uint8_t *p;
    size_t n;

    while ((n = otk_natc_output(&r->c, &p)) > 0) {
        FUZZ_CHECK(otk_natc_wants_output(&r->c));
        if (take && n > take)
            n = take;
        /* plaintext data is the stream itself, at the place the machine has reached (control
         * bytes queued before the 43 may still be going out of the machine's own buffer) */
        bool own = p >= r->c.tx && p < r->c.tx + sizeof r->c.tx;
        if (!r->c.encrypted && r->c.phase == OTK_NATC_DATA && !own) {
            FUZZ_CHECK(p == r->stream + r->c.sent);
            FUZZ_CHECK(r->c.sent + n <= r->c.data_size);
            r->data_seen += (uint32_t)n;
        }
        r->wire += n;
        otk_natc_sent(&r->c, n, r->now);
        check(r);
        if (take)
            break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[OTK_NOISE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 'g', 'z'};
    struct fuzz_crypto fc;
    struct otk_natc_cfg cfg;
    struct run *r;
    uint8_t *image;

    if (size < 5)
        return 0;
    uint8_t flags = data[0], cut = data[1] % 9 + 1, take = data[2];
    uint32_t img_size = ((uint32_t)data[3] << 8 | data[4]) % IMAGE_MAX + 1;
    data += 5;
    size -= 5;

    fuzz_crypto_init(&fc);
    image = malloc(img_size);
    r = calloc(1, sizeof *r);
    for (uint32_t i = 0; i < img_size; i++)
        image[i] = (uint8_t)(i * 31 + 7);
    otk_natc_cfg_defaults(&cfg);
    cfg.image = image;
    cfg.size = img_size;
    cfg.crypto = &fc.ops;
    cfg.password = flags & 1 ? "pw" : NULL;
    cfg.key = flags & 2 ? key : NULL;
    if (flags & 4) {
        cfg.gz = gz;
        cfg.gz_size = sizeof gz;
    }
    cfg.window = (flags >> 3) % 8 + 1;
    cfg.caps = flags & 0x40 ? OTK_NAT_CAP_RESUME : 0;
    r->keyed = cfg.key != NULL;
    r->now = 1000;
    FUZZ_CHECK(otk_natc_start(&r->c, &cfg, r->now) == OTK_OK);
    r->stream = image;
    pump(r, 0);
    for (size_t off = 0; off < size && !otk_natc_done(&r->c); off += cut) {
        size_t n = size - off < cut ? size - off : cut;
        otk_natc_input(&r->c, data + off, n, r->now);
        if (r->c.compressed)
            r->stream = gz;
        check(r);
        pump(r, take & 0x80 ? (size_t)(take & 0x7f) + 1 : 0);
        r->now += take & 3 ? 10 : 700;
        otk_natc_tick(&r->c, r->now);
        check(r);
    }
    /* the device falls silent: every phase has a deadline */
    for (int i = 0; i < 8 && !otk_natc_done(&r->c); i++) {
        pump(r, 0);
        r->now += 70000;
        otk_natc_tick(&r->c, r->now);
        check(r);
    }
    FUZZ_CHECK(otk_natc_done(&r->c));
    const uint8_t *p;
    FUZZ_CHECK(otk_natc_output(&r->c, &p) == 0);
    free(r);
    free(image);
    return 0;
}
