/* SPDX-License-Identifier: MIT */
/* The bootloader's decision at reset, in one place (MCUboot's boot_go() plays this part for its
 * simulator and its ports alike): otadata chooses a slot (applying the rollback rules, with the
 * writes they need), that slot's image is checked, and when it fails the other slot is tried,
 * as ESP-IDF's bootloader tries the remaining OTA slots. The emulator's boot, `otakit inspect`
 * (on a copy of the flash), the power-cut bench and a real bootloader port all call it. */
#ifndef OTK_BOOT_H
#define OTK_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "layout.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why otadata chose the slot it chose (before the image check). */
enum otk_boot_why {
    OTK_BOOT_RECORD = 0,    /* the winning otadata record names it (a NEW image's first boot
                               turns the record PENDING_VERIFY) */
    OTK_BOOT_FACTORY,       /* no valid record: slot 0, as ESP-IDF's bootloader */
    OTK_BOOT_ROLLBACK,      /* the winner booted once and never confirmed itself: it is marked
                               ABORTED, and the other slot (or slot 0) is chosen */
    OTK_BOOT_OTADATA_ERROR, /* otadata could not be read or rewritten: slot 0, as the real
                               bootloader does when otadata is unusable */
};

/** Checks the image in one slot (offset, size: the slot's extent) and fills info as far as it
 *  parsed. A bootloader passes otk_image_verify() with its chip; a tool that does not know the
 *  chip may try several. */
typedef enum otk_image_result (*otk_boot_verify_fn)(void *user, uint32_t offset, uint32_t size,
                                                    struct otk_image_info *info);

struct otk_boot_decision {
    int slot;                              /* the slot that runs; -1: neither image verifies */
    enum otk_image_result verify;          /* that slot's check (the selected slot's if none) */
    int selected_slot;                     /* otadata's choice */
    enum otk_boot_why why;                 /* why otadata chose it */
    enum otk_image_result selected_verify; /* the selected slot's check */
    bool rolled_back;                      /* an unconfirmed image was aborted at this reset */
    bool fallback;                         /* the selected slot failed; the other one runs */
    int otadata_rc;                        /* OTK_OK, or the error behind OTK_BOOT_OTADATA_ERROR */
    /* The running slot's otadata state after this reset's writes (enum otk_ota_state):
     * PENDING_VERIFY means the firmware must confirm itself (otk_slots_confirm()) before the
     * next reset, or that reset rolls it back. OTK_OTA_UNDEFINED when no record names the
     * running slot (factory state, a fallback). When nothing boots: the selected slot's. */
    uint32_t state;
    int entry; /* the otadata record (sector 0 or 1) that holds that state, -1 for none */
};

/** Whether an image check lets the image boot (an ESP8266 gzip image cannot be checked before
 *  the bootloader unpacks it, and boots). */
bool otk_boot_image_ok(enum otk_image_result r);

/** Decide which slot boots at this reset and why, and write otadata as the rollback rules
 *  require (otk_slots_boot()). info (may be NULL) gets the image description of the slot that
 *  runs, or of the selected slot when none does.
 *  @return OTK_OK (d is filled; d->slot == -1 when nothing can boot) or OTK_ERR_ARG. An unusable
 *  otadata is not an error: it is a reason (OTK_BOOT_OTADATA_ERROR). */
int otk_boot_decide(const struct otk_flash_ops *f, const struct otk_layout *l,
                    otk_boot_verify_fn verify, void *verify_user, struct otk_boot_decision *d,
                    struct otk_image_info *info);

/** A short name for a reason ("record", "factory", "rollback", "otadata-error"). */
const char *otk_boot_why_str(enum otk_boot_why why);

#ifdef __cplusplus
}
#endif
#endif
