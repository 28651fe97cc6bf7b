/* SPDX-License-Identifier: MIT */
/* In-RAM NOR flash for unit tests (see helper_ramflash.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper_check.h"
#include "helper_ramflash.h"
#include "otakit/err.h"

static int
misuse(struct ramflash *rf, const char *what, uint32_t addr, size_t len)
{
    rf->misuse++;
    if (rf->fail_on_misuse) {
        fail_msg("ramflash: %s at 0x%08x len %zu", what, (unsigned)addr, len);
    }
    return OTK_ERR_FLASH;
}

static bool
in_range(const struct ramflash *rf, uint32_t addr, size_t len)
{
    return addr <= rf->size && len <= (size_t)(rf->size - addr);
}

/* Count a mutation and decide its fate: 1 = apply fully, 0 = cut now (partial or not),
 * -1 = power is already gone. */
static int
mutation_fate(struct ramflash *rf)
{
    if (!rf->powered) {
        return -1;
    }
    rf->mutations++;
    if (rf->cut_at != 0 && rf->mutations == rf->cut_at) {
        rf->powered = false;
        return 0;
    }
    return 1;
}

static int
rf_read(void *user, uint32_t addr, void *buf, size_t len)
{
    struct ramflash *rf = user;

    rf->reads++;
    if (!rf->powered) {
        return OTK_ERR_FLASH;
    }
    if (!in_range(rf, addr, len)) {
        return misuse(rf, "read out of range", addr, len);
    }
    memcpy(buf, rf->mem + addr, len);
    return OTK_OK;
}

static int
rf_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    struct ramflash *rf = user;
    const uint8_t *src = buf;
    size_t n = len;
    int fate;

    rf->writes++;
    fate = mutation_fate(rf);
    if (fate < 0) {
        return OTK_ERR_FLASH;
    }
    if (!in_range(rf, addr, len)) {
        return misuse(rf, "write out of range", addr, len);
    }
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)(src[i] & ~rf->mem[addr + i]) != 0) {
            return misuse(rf, "write sets bits (NOR rule)", addr + (uint32_t)i, len);
        }
    }
    if (fate == 0) {
        n = len / 2; /* the cut: half programmed, or nothing */
        if (!rf->cut_partial) {
            return OTK_ERR_FLASH;
        }
    }
    for (size_t i = 0; i < n; i++) {
        rf->mem[addr + i] &= src[i];
    }
    return fate == 0 ? OTK_ERR_FLASH : OTK_OK;
}

static int
rf_erase(void *user, uint32_t addr, uint32_t len)
{
    struct ramflash *rf = user;
    uint32_t n = len;
    int fate;

    if (len == 4096) {
        rf->erases_4k++;
    } else if (len == 65536 && addr % 65536 == 0) {
        rf->erases_64k++;
    } else {
        rf->erases_other++;
    }
    fate = mutation_fate(rf);
    if (fate < 0) {
        return OTK_ERR_FLASH;
    }
    if (addr % 4096 != 0 || len % 4096 != 0 || len == 0) {
        return misuse(rf, "misaligned erase", addr, len);
    }
    if (!in_range(rf, addr, len)) {
        return misuse(rf, "erase out of range", addr, len);
    }
    if (fate == 0) {
        n = len / 2; /* the cut: half of it erased, or nothing */
        if (!rf->cut_partial) {
            return OTK_ERR_FLASH;
        }
    }
    memset(rf->mem + addr, 0xFF, n);
    return fate == 0 ? OTK_ERR_FLASH : OTK_OK;
}

void
ramflash_init(struct ramflash *rf, uint32_t size)
{
    memset(rf, 0, sizeof *rf);
    rf->mem = malloc(size);
    assert_non_null(rf->mem);
    rf->size = size;
    ramflash_reset(rf);
}

void
ramflash_reset(struct ramflash *rf)
{
    uint8_t *mem = rf->mem;
    uint32_t size = rf->size;

    memset(rf, 0, sizeof *rf);
    memset(mem, 0xFF, size);
    rf->mem = mem;
    rf->size = size;
    rf->fail_on_misuse = true;
    rf->powered = true;
    rf->ops.read = rf_read;
    rf->ops.write = rf_write;
    rf->ops.erase = rf_erase;
    rf->ops.user = rf;
}

void
ramflash_free(struct ramflash *rf)
{
    free(rf->mem);
    rf->mem = NULL;
}

void
ramflash_cut_after(struct ramflash *rf, unsigned long n, bool partial)
{
    rf->cut_at = rf->mutations + n + 1;
    rf->cut_partial = partial;
}

void
ramflash_power_on(struct ramflash *rf)
{
    rf->powered = true;
    rf->cut_at = 0;
}

void
ramflash_load(struct ramflash *rf, uint32_t addr, const void *data, size_t len)
{
    assert_true(in_range(rf, addr, len));
    memcpy(rf->mem + addr, data, len);
}
