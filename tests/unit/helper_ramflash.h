/* SPDX-License-Identifier: MIT */
/* An in-RAM NOR flash for unit tests: implements struct otk_flash_ops with the NOR rules
 * (erase sets 0xFF in 4 KB sectors / 64 KB blocks, a write may only clear bits), counts the
 * operations, and can cut the power at a chosen operation.
 *
 * Usage:
 *     struct ramflash rf;
 *     ramflash_init(&rf, 0x400000);           // all 0xFF
 *     otk_upd_init(&u, ..., &rf.ops, ...);    // rf.ops is the otk_flash_ops table
 *     ramflash_cut_after(&rf, 10, true);      // 10 more erases/writes work, the 11th is
 *                                             // half applied and fails, then all ops fail
 *     ...
 *     ramflash_power_on(&rf);                 // "reboot": ops work again, contents kept
 *     ramflash_free(&rf);
 *
 * A write that would turn a 0 bit into 1, a misaligned erase or an access outside the flash
 * fails the running cmocka test (set fail_on_misuse = false to get OTK_ERR_FLASH instead). */
#ifndef OTK_HELPER_RAMFLASH_H
#define OTK_HELPER_RAMFLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/port.h"

struct ramflash {
    uint8_t *mem;
    uint32_t size;
    /* Counters of attempted operations (failed ones included). */
    unsigned long reads;
    unsigned long writes;
    unsigned long erases_4k;    /* erase(addr, 4096) */
    unsigned long erases_64k;   /* erase(addr, 65536) at a 64 KB boundary: one block erase */
    unsigned long erases_other; /* other multiples of 4 KB */
    unsigned long mutations;    /* erases + writes: what power cuts count */
    unsigned long misuse;       /* NOR violations, bad alignment, out of range */
    bool fail_on_misuse;        /* default true: misuse fails the test */
    /* Power: cut_at is the mutation number (counted in `mutations`) that gets cut, 0 = never. */
    unsigned long cut_at;
    bool cut_partial; /* the cut operation is half applied (else not applied at all) */
    bool powered;     /* false after the cut: every operation fails, nothing changes */
    struct otk_flash_ops ops;
};

/** Allocate `size` bytes of erased (0xFF) flash and fill rf->ops. Fails the test on OOM. */
void ramflash_init(struct ramflash *rf, uint32_t size);
void ramflash_free(struct ramflash *rf);

/** Back to the state ramflash_init() left: all 0xFF, counters zero, powered, no cut pending,
 *  fail_on_misuse true (the allocation is kept: for fuzzers running millions of times). */
void ramflash_reset(struct ramflash *rf);

/** Lose power during a future operation: the next n erases/writes work, the one after is the
 *  cut (half applied if partial, else not at all) and fails, and every later op (reads too)
 *  fails without effect until ramflash_power_on(). */
void ramflash_cut_after(struct ramflash *rf, unsigned long n, bool partial);

/** Power back: clear the cut, keep the contents and counters. */
void ramflash_power_on(struct ramflash *rf);

/** Copy bytes in directly (test setup): no NOR rule, not counted. */
void ramflash_load(struct ramflash *rf, uint32_t addr, const void *data, size_t len);

#endif
