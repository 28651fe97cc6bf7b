/* SPDX-License-Identifier: MIT */
/* The emulator's NOR flash: a file mapped into memory, so it survives reboots and power cuts.
 * Enforces the NOR rules (erase to 0xFF in 4 KB sectors / 64 KB blocks, writes only clear bits),
 * charges each operation the time a real chip would stall, counts operations, and can cut the
 * power in the middle of the N-th one. Implements struct otk_flash_ops. */
#ifndef OTK_FLASHSIM_H
#define OTK_FLASHSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "otakit/layout.h"
#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_flash_timing {
    OTK_FLASH_INSTANT = 0,   /* no delays: fast tests */
    OTK_FLASH_REALISTIC = 1, /* datasheet-typical erase/program times, really blocking */
};

/** Per-chip timing in microseconds (see docs/EMULATOR.md for where the numbers come from). */
struct otk_flash_timing_profile {
    uint32_t sector_erase_us; /* 4 KB */
    uint32_t block_erase_us;  /* 64 KB, aligned */
    uint32_t page_program_us; /* 256 bytes */
};

struct otk_flashsim {
    /* private */
    int fd;
    uint8_t *mem;
    uint32_t size;
    enum otk_flash_timing timing;
    struct otk_flash_timing_profile t;
    uint64_t ops;      /* erase + write operations so far */
    uint64_t cut_at;   /* 0 = never; else the op that is applied halfway, then power dies */
    uint64_t sleep_us; /* total time charged so far */
    bool powered_off;  /* the cut happened: every operation fails, nothing changes */
    struct otk_flash_ops ops_tab;
    /** Called for NOR rule violations and bad arguments (one line of text, no newline); NULL:
     *  not reported (the operation's error code still says it). */
    void (*log)(void *user, const char *msg);
    /** Called from inside the operation that the power cut interrupts (the flash is already
     *  synced): the owner stops the device (sockets, tasks) and returns to its loop, where
     *  otk_flashsim_powered_off() tells it to end. */
    void (*on_power_cut)(void *user, uint64_t op);
    void *user;
    /** With realistic timing: called instead of sleeping for the us microseconds an operation
     *  stalls the CPU (the link model keeps the air moving meanwhile); NULL = nanosleep. */
    void (*stall)(void *stall_user, uint64_t us);
    void *stall_user;
};

/** The timing numbers of a chip profile. */
struct otk_flash_timing_profile otk_flashsim_timing_of(enum otk_profile p);

/** Open (or create) the flash file. A missing file is created as the profile's factory state:
 *  all 0xFF, the default partition table at 0x8000, otadata erased, and an image "factory"
 *  version "0.0.0" in app0. *created tells whether that happened.
 *  err/errcap receive a message on failure.
 *  @return OTK_OK, OTK_ERR_IO (file), OTK_ERR_ARG (bad size), OTK_ERR_IMAGE (image generator). */
int otk_flashsim_open(struct otk_flashsim *fs, const char *path, enum otk_profile p,
                      enum otk_flash_timing timing, bool *created, char *err, size_t errcap);

/** Write the factory state of a profile into mem (size bytes, normally
 *  otk_layout_default_flash_size(p)). @return OTK_OK or an OTK_ERR_*. */
int otk_flashsim_format(uint8_t *mem, uint32_t size, enum otk_profile p, char *err, size_t errcap);

/** The ops table for the engine (valid while fs is open). */
const struct otk_flash_ops *otk_flashsim_ops(struct otk_flashsim *fs);

/** Make op number n (1-based, erases and writes) the last one: half applied, then the power is
 *  gone (on_power_cut; that op and every later one fails with OTK_ERR_FLASH, changing nothing). */
void otk_flashsim_set_cut(struct otk_flashsim *fs, uint64_t n);

/** Whether the power cut has happened. */
bool otk_flashsim_powered_off(const struct otk_flashsim *fs);

uint64_t otk_flashsim_op_count(const struct otk_flashsim *fs);
uint32_t otk_flashsim_size(const struct otk_flashsim *fs);

/** Flush to the file and unmap. */
void otk_flashsim_close(struct otk_flashsim *fs);

/** Read-only flash ops over a memory buffer (used by `otakit inspect`, which must not write);
 *  writes and erases go to the buffer too when writable is set (for dry runs on a copy). */
struct otk_memflash {
    uint8_t *mem;
    uint32_t size;
    bool writable;
    struct otk_flash_ops ops_tab;
};

const struct otk_flash_ops *otk_memflash_init(struct otk_memflash *m, uint8_t *mem, uint32_t size,
                                              bool writable);

#ifdef __cplusplus
}
#endif
#endif
