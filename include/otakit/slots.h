/* SPDX-License-Identifier: MIT */
/* A/B slots selected by an otadata record, as ESP-IDF does: two 4 KB sectors, each holding a
 * 32-byte entry {seq, label[20], state, crc32(seq)}. The entry with the highest valid seq wins;
 * slot = (seq - 1) % 2. A new image is written with state NEW; the bootloader turns it into
 * PENDING_VERIFY on first boot; the firmware confirms it (VALID) or the next boot rolls back. */
#ifndef OTK_SLOTS_H
#define OTK_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_ota_state {
    OTK_OTA_NEW = 0,
    OTK_OTA_PENDING_VERIFY = 1,
    OTK_OTA_VALID = 2,
    OTK_OTA_INVALID = 3,
    OTK_OTA_ABORTED = 4,
};
/* Erased state (ESP-IDF ESP_OTA_IMG_UNDEFINED). A macro, not an enumerator: ISO C limits
 * enumerators to the range of int, and the core builds with -pedantic. */
#define OTK_OTA_UNDEFINED 0xFFFFFFFFu

struct otk_otadata_entry {
    uint32_t seq;
    uint8_t label[20];
    uint32_t state;
    uint32_t crc;
};

struct otk_slots_status {
    struct otk_otadata_entry entry[2];
    bool valid[2];       /* crc matches and seq not 0/0xFFFFFFFF */
    int active_entry;    /* index of the winning entry, -1 if none (factory state: app0) */
    int boot_slot;       /* 0 or 1 */
    uint32_t boot_state; /* state of the winning entry, OTK_OTA_UNDEFINED if none */
};

/** Read both otadata sectors and decide which slot boots next (no writes). */
int otk_slots_read(const struct otk_flash_ops *f, const struct otk_layout *l,
                   struct otk_slots_status *st);

/** The slot otadata entry k (0 or 1) of st names, or -1 when the entry is not valid. */
int otk_slots_entry_slot(const struct otk_slots_status *st, int k);

/** Make `slot` boot next with state NEW: write seq+1 into the sector that does not hold the
 *  current winner (erase, then write), so a power cut at any point leaves either the old or the
 *  new record valid. @return OTK_OK, OTK_ERR_FLASH, OTK_ERR_ARG. */
int otk_slots_set_boot(const struct otk_flash_ops *f, const struct otk_layout *l, int slot);

/** The bootloader's decision at reset: NEW -> PENDING_VERIFY and boot it; PENDING_VERIFY (never
 *  confirmed) -> ABORTED and boot the other slot. Writes otadata as needed.
 *  *slot gets the slot to boot, *rolled_back whether a rollback happened. */
int otk_slots_boot(const struct otk_flash_ops *f, const struct otk_layout *l, int *slot,
                   bool *rolled_back);

/** The running firmware confirms itself: PENDING_VERIFY -> VALID. No-op if already valid. */
int otk_slots_confirm(const struct otk_flash_ops *f, const struct otk_layout *l);

const char *otk_ota_state_str(uint32_t state);

#ifdef __cplusplus
}
#endif
#endif
