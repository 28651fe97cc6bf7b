/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/noise.h"
#include "otakit/posix.h"

void
fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", what, file, line);
    abort();
}

static int
fake_pbkdf2(const void *password, size_t password_len, const void *salt, size_t salt_len,
            uint32_t iterations, uint8_t *out, size_t out_len)
{
    const struct otk_crypto_ops *p = otk_posix_crypto();
    union otk_hash_ctx ctx;
    uint8_t d[32], it[4] = {(uint8_t)iterations, (uint8_t)(iterations >> 8),
                            (uint8_t)(iterations >> 16), (uint8_t)(iterations >> 24)};

    p->sha256_start(&ctx);
    p->sha256_update(&ctx, password, password_len);
    p->sha256_update(&ctx, salt, salt_len);
    p->sha256_update(&ctx, it, sizeof it);
    p->sha256_finish(&ctx, d);
    for (size_t i = 0; i < out_len; i++)
        out[i] = d[i % sizeof d];
    return OTK_OK;
}

static int
counter_random(void *user, uint8_t *buf, size_t len)
{
    struct fuzz_crypto *c = user;

    for (size_t i = 0; i < len; i++) {
        c->counter = c->counter * 6364136223846793005u + 1442695040888963407u;
        buf[i] = (uint8_t)(c->counter >> 56);
    }
    return OTK_OK;
}

void
fuzz_crypto_init(struct fuzz_crypto *c)
{
    c->ops = *otk_posix_crypto();
    c->ops.pbkdf2_sha256 = fake_pbkdf2;
    c->ops.random = counter_random;
    c->ops.user = c;
    c->counter = 1;
}

int
fuzz_noise_start(struct otk_noise *s, struct fuzz_crypto *c, bool initiator, uint8_t key_byte,
                 uint64_t counter)
{
    static const uint8_t prologue[] = "NoiseOTAInit\x6c\x26\xf7\x5c\x45\x00\x02\x0f\x48\x04";
    uint8_t psk[OTK_NOISE_KEY_LEN];

    for (int i = 0; i < OTK_NOISE_KEY_LEN; i++)
        psk[i] = (uint8_t)(key_byte + i);
    fuzz_crypto_init(c);
    c->counter = counter;
    return otk_noise_start(s, &c->ops, initiator, psk, prologue, sizeof prologue - 1);
}

void
fuzz_layout(struct otk_layout *l)
{
    memset(l, 0, sizeof *l);
    /* The chip is said to have 4 MB, as the images' headers say (an ESP8266 update refuses an
     * image made for a bigger chip), but only the first 256 KB exist: every partition is there. */
    l->flash_size = 0x400000u;
    l->otadata_offset = 0x9000;
    l->app_offset[0] = 0x10000;
    l->app_size[0] = 0x10000;
    l->app_offset[1] = 0x20000;
    l->app_size[1] = 0x10000;
    l->fs_offset = 0x30000;
    l->fs_size = 0x10000;
}

bool
fin_more(const struct fuzz_in *in)
{
    return in->pos < in->len;
}

uint8_t
fin_u8(struct fuzz_in *in)
{
    return in->pos < in->len ? in->p[in->pos++] : 0;
}

uint16_t
fin_u16(struct fuzz_in *in)
{
    uint16_t lo = fin_u8(in);

    return (uint16_t)(lo | (uint16_t)fin_u8(in) << 8);
}

size_t
fin_take(struct fuzz_in *in, size_t n, const uint8_t **out)
{
    size_t left = in->len - in->pos;

    if (n > left)
        n = left;
    *out = in->p + in->pos;
    in->pos += n;
    return n;
}

bool
fuzz_overlaps(uint32_t addr, size_t len, uint32_t off, uint32_t size)
{
    return addr < off + size && off < addr + len;
}

static int
guarded_read(void *user, uint32_t addr, void *buf, size_t len)
{
    struct fuzz_guarded_flash *g = user;

    return g->down->read(g->down->user, addr, buf, len);
}

static int
guarded_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    struct fuzz_guarded_flash *g = user;

    g->guard(g->user, addr, len);
    return g->down->write(g->down->user, addr, buf, len);
}

static int
guarded_erase(void *user, uint32_t addr, uint32_t len)
{
    struct fuzz_guarded_flash *g = user;

    g->guard(g->user, addr, len);
    return g->down->erase(g->down->user, addr, len);
}

void
fuzz_guarded_flash_init(struct fuzz_guarded_flash *g, const struct otk_flash_ops *down,
                        void (*guard)(void *user, uint32_t addr, size_t len), void *user)
{
    g->ops = (struct otk_flash_ops){guarded_read, guarded_write, guarded_erase, g};
    g->down = down;
    g->guard = guard;
    g->user = user;
}
