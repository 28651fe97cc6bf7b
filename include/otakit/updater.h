/* SPDX-License-Identifier: MIT */
/* The image writer: what Update does on the real cores (begin / write / end), with the same
 * error numbers and strings per profile, streaming through a caller-owned 4 KB sector buffer,
 * erasing ahead of the writes, checking the magic byte, the MD5, and (for application images)
 * the whole image the way the bootloader will, before switching slots. */
#ifndef OTK_UPDATER_H
#define OTK_UPDATER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why an update failed, independent of the profile. The wire number and text come from
 *  otk_upd_errnum() / otk_upd_errtext(), identical to the ESP32 or ESP8266 core's. */
enum otk_upd_reason {
    OTK_UPD_OK = 0,
    OTK_UPD_WRITE,  /* ESP32 1 "Flash Write Failed"            ESP8266 1 */
    OTK_UPD_ERASE,  /* 2 "Flash Erase Failed" */
    OTK_UPD_READ,   /* 3 "Flash Read Failed" */
    OTK_UPD_SPACE,  /* 4 "Not Enough Space" */
    OTK_UPD_SIZE,   /* 5 "Bad Size Given" */
    OTK_UPD_STREAM, /* 6 "Stream Read Timeout" */
    OTK_UPD_MD5,    /* ESP32 7 "MD5 Check Failed"; ESP8266 7 "MD5 verification failed: expected: X,
                       calculated: Y" */
    OTK_UPD_MAGIC,  /* ESP32 8 "Wrong Magic Byte"; ESP8266 10 "Magic byte is not 0xE9" */
    OTK_UPD_ACTIVATE, /* ESP32 9 "Could Not Activate The Firmware" (image invalid: checksum, hash,
                         chip) */
    OTK_UPD_NO_PARTITION,     /* ESP32 10 "Partition Could Not be Found" */
    OTK_UPD_BAD_ARG,          /* ESP32 11 "Bad Argument" */
    OTK_UPD_ABORTED,          /* ESP32 12 "Aborted" (end before all bytes arrived) */
    OTK_UPD_NEW_FLASH_CONFIG, /* ESP8266 9 "new Flash config wrong..." (image for another
                                 chip/flash) */
    OTK_UPD_BAD_IMAGE,        /* ESP8266 otakit extension: image checksum broken */
    OTK_UPD_RUNNING,          /* ESP8266 15 "Update already running" (also used on ESP32) */
    OTK_UPD_UNKNOWN_CMD,      /* ESP8266 16 "Unknown update command" */
    OTK_UPD_NO_DATA,          /* ESP8266 13 "No data supplied" */
    OTK_UPD_UNCONFIRMED,      /* otakit 22: the running image is still pending verification */
    OTK_UPD_WRONG_CHIP,       /* otakit 23 "Image For Another Chip": its header names another
                                 chip than the profile's (checked before the first erase) */
};

struct otk_updater {
    /* private */
    const struct otk_flash_ops *flash;
    const struct otk_crypto_ops *crypto;
    const struct otk_layout *layout;
    enum otk_profile profile;
    uint8_t *buf; /* OTK_SECTOR_SIZE bytes, caller-owned */
    uint32_t cmd;
    int target_slot; /* -1 for filesystem */
    uint32_t start;  /* flash offset of the target */
    uint32_t part_size;
    uint32_t size;     /* announced image size */
    uint32_t progress; /* bytes accepted */
    uint32_t buf_len;
    uint32_t erased_until; /* flash offset up to which the target is erased */
    uint32_t pre_erased;   /* otk_upd_pre_erase(): bytes of the idle slot done so far */
    bool running;
    enum otk_upd_reason reason;
    char md5_expected[33];
    char md5_actual[33];
    union otk_hash_ctx md5;
    int (*activate)(void *user, uint32_t app_offset); /* NULL: otk_slots_set_boot */
    void *activate_user;
};

/** Bind an updater to its flash, crypto, layout and sector buffer (OTK_SECTOR_SIZE bytes). */
void otk_upd_init(struct otk_updater *u, enum otk_profile profile,
                  const struct otk_flash_ops *flash, const struct otk_crypto_ops *crypto,
                  const struct otk_layout *layout, uint8_t *sector_buf);

/** How a complete, verified application image becomes the next boot choice. By default (after
 *  otk_upd_init) the core writes the otadata record itself (otk_slots_set_boot). A platform
 *  whose own API owns that record sets fn instead - ESP-IDF's esp_ota_set_boot_partition(),
 *  which also runs ESP-IDF's image and signature checks: fn gets the flash offset of the slot
 *  just written and returns OTK_OK, or anything else to refuse it (the update then fails as
 *  OTK_UPD_ACTIVATE, "Could Not Activate The Firmware"). fn NULL restores the default. */
void otk_upd_set_activate(struct otk_updater *u, int (*fn)(void *user, uint32_t app_offset),
                          void *user);

/** Start an update of `size` bytes: cmd 0 = application image into the slot that is not
 *  running_slot, 100 = filesystem image into the spiffs partition. md5hex (32 hex, any case) is
 *  checked at the end. Checks the space; erases nothing yet.
 *  @return OTK_UPD_OK or the reason it cannot start (SPACE, SIZE, NO_PARTITION, RUNNING, ...). */
enum otk_upd_reason otk_upd_begin(struct otk_updater *u, uint32_t size, uint32_t cmd,
                                  int running_slot, const char *md5hex);

/** The MD5 to check at end(), for a protocol that sends it after the size (ESPHome's native
 *  one): md5hex holds len characters, 32 hex digits of either case. Only while running.
 *  @return true, or false (not 32 hex digits, or no update running: nothing changes). */
bool otk_upd_set_md5(struct otk_updater *u, const char *md5hex, size_t len);

/** Accept image bytes. @return len on success; 0 on failure (see otk_upd_reason_of; the update
 *  is then aborted). More bytes than remain is OTK_UPD_SPACE, as on the ESP32 core. An
 *  application image whose first OTK_IMAGE_HEAD_LEN bytes name another chip is
 *  OTK_UPD_WRONG_CHIP, before anything is erased. */
size_t otk_upd_write(struct otk_updater *u, const uint8_t *data, size_t len);

/** Erase the next erase unit ahead of the writes, if the writes will need it soon (at most the
 *  64 KB block being written and the next), and not before the image's head has been checked.
 *  Units that already read as erased are skipped.
 *  @return 1 if it erased or skipped a unit, 0 if nothing was left to do, -1 if the erase
 *  failed (the update is then aborted with OTK_UPD_ERASE). */
int otk_upd_erase_ahead(struct otk_updater *u);

/** Between updates: erase the next 64 KB of the slot that is not running, so that the next
 *  update finds it erased and spends no time erasing (on a slow link every block erase stalls
 *  the transfer). Opt-in, like ESP-IDF's esp_ota_erase_last_boot_app_partition(): the previous
 *  image is lost. Only while no update runs and only once the running image is the confirmed
 *  boot choice (otadata selects running_slot in state VALID, or there is no otadata at all):
 *  before that the other slot is the rollback target, or the image just written. One call
 *  erases at most one block (a 150 ms stall on an ESP32) and reads the blocks it skips.
 *  @return 1 if it erased or skipped a block (call again later), 0 if nothing is left to do or
 *  not allowed now, -1 on a flash error. */
int otk_upd_pre_erase(struct otk_updater *u, int running_slot);

/** All announced bytes written? */
bool otk_upd_is_finished(const struct otk_updater *u);

/** Flush, check MD5, verify the image and switch the boot slot (application images).
 *  @return OTK_UPD_OK or the reason. */
enum otk_upd_reason otk_upd_end(struct otk_updater *u);

/** Abandon the update; the running image and otadata are untouched. */
void otk_upd_abort(struct otk_updater *u, enum otk_upd_reason why);

enum otk_upd_reason otk_upd_reason_of(const struct otk_updater *u);
uint32_t otk_upd_progress(const struct otk_updater *u);

/** Error number of a reason as the profile's core reports it (ESP32 / ESP8266 numbering). */
int otk_upd_errnum(enum otk_profile p, enum otk_upd_reason r);

/** Write the profile's error text for the last failure of u into out (cap bytes, NUL-terminated;
 *  ESP8266's MD5 text carries both digests as its core's does). @return length. */
size_t otk_upd_errtext(const struct otk_updater *u, char *out, size_t cap);

/** The fixed text of a reason for a profile (without dynamic parts). */
const char *otk_upd_reason_str(enum otk_profile p, enum otk_upd_reason r);

#ifdef __cplusplus
}
#endif
#endif
