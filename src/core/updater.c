/* SPDX-License-Identifier: MIT */
/* The image writer, with the semantics of the Update class of the ESP32 and ESP8266 Arduino
 * cores (begin / write / end, their error numbers and texts), streaming through one 4 KB
 * sector buffer owned by the caller.
 *
 * Safety rules: nothing outside [start, start + part_size) of the target partition is ever
 * erased or written (see in_target(), checked before every flash op), and otadata is written
 * only by the last step of a successful end(). Every failure therefore leaves the running slot
 * and the boot choice as they were. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/slots.h"
#include "otakit/proto.h"
#include "otakit/updater.h"

#include "text.h"

#define CMD_FLASH 0u
#define CMD_FS    100u

/* Error numbers of the reasons. ESP32: libraries/Update (UPDATE_ERROR_*); ESP8266:
 * cores/esp8266/Updater.h. Reasons one core never produces borrow the other core's number
 * where it has one (RUNNING, UNKNOWN_CMD, NO_DATA on ESP32), else get an otakit extension
 * number above the ESP8266 core's last one (16):
 *   17 Image verification failed, 18 Aborted, 19 Partition Could Not be Found,
 *   20 Bad Argument, 21 Could Not Activate The Firmware. */
enum { NUM_ESP32, NUM_ESP8266 };

static const uint8_t reason_num[][2] = {
    [OTK_UPD_OK] = {0, 0},
    [OTK_UPD_WRITE] = {1, 1},
    [OTK_UPD_ERASE] = {2, 2},
    [OTK_UPD_READ] = {3, 3},
    [OTK_UPD_SPACE] = {4, 4},
    [OTK_UPD_SIZE] = {5, 5},
    [OTK_UPD_STREAM] = {6, 6},
    [OTK_UPD_MD5] = {7, 7},
    [OTK_UPD_MAGIC] = {8, 10},
    [OTK_UPD_ACTIVATE] = {9, 21},
    [OTK_UPD_NO_PARTITION] = {10, 19},
    [OTK_UPD_BAD_ARG] = {11, 20},
    [OTK_UPD_ABORTED] = {12, 18},
    [OTK_UPD_NEW_FLASH_CONFIG] = {9, 9},
    [OTK_UPD_BAD_IMAGE] = {9, 17},
    [OTK_UPD_RUNNING] = {15, 15},
    [OTK_UPD_UNKNOWN_CMD] = {16, 16},
    [OTK_UPD_NO_DATA] = {13, 13},
    [OTK_UPD_UNCONFIRMED] = {22, 22},
    [OTK_UPD_WRONG_CHIP] = {23, 23},
};

#define N_REASONS (sizeof reason_num / sizeof reason_num[0])

/* The texts both cores share, in the ESP32 core's words. */
static const char *const reason_text[N_REASONS] = {
    [OTK_UPD_OK] = "No Error",
    [OTK_UPD_WRITE] = "Flash Write Failed",
    [OTK_UPD_ERASE] = "Flash Erase Failed",
    [OTK_UPD_READ] = "Flash Read Failed",
    [OTK_UPD_SPACE] = "Not Enough Space",
    [OTK_UPD_SIZE] = "Bad Size Given",
    [OTK_UPD_STREAM] = "Stream Read Timeout",
    [OTK_UPD_MD5] = "MD5 Check Failed",
    [OTK_UPD_MAGIC] = "Wrong Magic Byte",
    [OTK_UPD_ACTIVATE] = "Could Not Activate The Firmware",
    [OTK_UPD_NO_PARTITION] = "Partition Could Not be Found",
    [OTK_UPD_BAD_ARG] = "Bad Argument",
    [OTK_UPD_ABORTED] = "Aborted",
    [OTK_UPD_NEW_FLASH_CONFIG] = "Could Not Activate The Firmware",
    [OTK_UPD_BAD_IMAGE] = "Could Not Activate The Firmware",
    [OTK_UPD_RUNNING] = "Update already running",
    [OTK_UPD_UNKNOWN_CMD] = "Unknown update command",
    [OTK_UPD_NO_DATA] = "No data supplied",
    [OTK_UPD_UNCONFIRMED] = "Running Firmware Not Confirmed",
    [OTK_UPD_WRONG_CHIP] = "Image For Another Chip",
};

/* Where the ESP8266 core words it differently. */
static const char *
esp8266_text(enum otk_upd_reason r)
{
    switch (r) {
    case OTK_UPD_MD5:
        return "MD5 verification failed";
    case OTK_UPD_MAGIC:
        return "Magic byte is not 0xE9";
    case OTK_UPD_NEW_FLASH_CONFIG:
        return "new Flash config wrong";
    case OTK_UPD_BAD_IMAGE:
        return "Image verification failed";
    default:
        return reason_text[r];
    }
}

void
otk_upd_init(struct otk_updater *u, enum otk_profile profile, const struct otk_flash_ops *flash,
             const struct otk_crypto_ops *crypto, const struct otk_layout *layout,
             uint8_t *sector_buf)
{
    memset(u, 0, sizeof *u);
    u->profile = profile;
    u->flash = flash;
    u->crypto = crypto;
    u->layout = layout;
    u->buf = sector_buf;
    u->target_slot = -1;
}

void
otk_upd_set_activate(struct otk_updater *u, int (*fn)(void *user, uint32_t app_offset), void *user)
{
    u->activate = fn;
    u->activate_user = user;
}

static enum otk_upd_reason
fail(struct otk_updater *u, enum otk_upd_reason why)
{
    u->running = false;
    u->reason = why;
    return why;
}

static bool
esp32(const struct otk_updater *u)
{
    return u->profile != OTK_PROFILE_ESP8266;
}

static uint32_t
round_sector(uint32_t v)
{
    return (v + (OTK_SECTOR_SIZE - 1u)) & ~(OTK_SECTOR_SIZE - 1u);
}

/* The guard: is [addr, addr + len) inside the target partition? */
static bool
in_target(const struct otk_updater *u, uint32_t addr, uint32_t len)
{
    return addr >= u->start && len <= u->part_size && addr - u->start <= u->part_size - len;
}

/* The otadata state of the running image; OTK_OTA_INVALID if otadata would boot the other
 * slot or cannot be read. */
static uint32_t
running_state(const struct otk_updater *u, int running_slot)
{
    struct otk_slots_status st;

    if (otk_slots_read(u->flash, u->layout, &st) != OTK_OK || st.boot_slot != running_slot) {
        return OTK_OTA_INVALID;
    }
    return st.boot_state;
}

enum otk_upd_reason
otk_upd_begin(struct otk_updater *u, uint32_t size, uint32_t cmd, int running_slot,
              const char *md5hex)
{
    const struct otk_layout *l = u->layout;
    uint32_t start = 0, part_size = 0;

    if (u->running) {
        return OTK_UPD_RUNNING; /* the running update goes on untouched */
    }
    u->reason = OTK_UPD_OK;
    u->progress = 0;
    u->buf_len = 0;
    u->size = 0;
    u->md5_expected[0] = '\0';
    u->md5_actual[0] = '\0';
    if (size == 0) {
        return fail(u, OTK_UPD_SIZE);
    }
    if (cmd == CMD_FLASH) {
        if (running_slot != 0 && running_slot != 1) {
            return fail(u, OTK_UPD_BAD_ARG);
        }
        if (running_state(u, running_slot) == OTK_OTA_PENDING_VERIFY) {
            /* The other slot holds the last image known to work: it is the rollback target
             * until the running one confirms itself, so it must not be overwritten (ESP-IDF's
             * esp_ota_begin refuses this case too). */
            return fail(u, OTK_UPD_UNCONFIRMED);
        }
        u->target_slot = 1 - running_slot;
        start = l->app_offset[u->target_slot];
        part_size = l->app_size[u->target_slot];
    } else if (cmd == CMD_FS) {
        u->target_slot = -1;
        start = l->fs_offset;
        part_size = l->fs_size;
    } else {
        /* The ESP32 core answers an unknown command with UPDATE_ERROR_BAD_ARGUMENT, the ESP8266
         * core with UPDATE_ERROR_UNKNOWN_COMMAND. */
        return fail(u, esp32(u) ? OTK_UPD_BAD_ARG : OTK_UPD_UNKNOWN_CMD);
    }
    if (part_size == 0) {
        /* ESP8266 has no partition lookup: a missing FS area is an FS area of size 0. */
        return fail(u, esp32(u) ? OTK_UPD_NO_PARTITION : OTK_UPD_SPACE);
    }
    if (esp32(u) ? (size > part_size) : (size > part_size || round_sector(size) > part_size)) {
        /* ESP32 begin(): "too large" is UPDATE_ERROR_SIZE; ESP8266 begin() compares the size
         * rounded up to sectors and says UPDATE_ERROR_SPACE. */
        return fail(u, esp32(u) ? OTK_UPD_SIZE : OTK_UPD_SPACE);
    }
    if (md5hex != NULL && md5hex[0] != '\0') {
        /* The protocol layer only passes 32 hex digits; anything else is a caller bug, and
         * silently skipping the check would hide it. A NUL before the 32nd digit is not hex. */
        for (size_t i = 0; i < 32; i++) {
            int v = otk__hex_value(md5hex[i]);

            if (v < 0) {
                return fail(u, OTK_UPD_BAD_ARG);
            }
            u->md5_expected[i] = "0123456789abcdef"[v];
        }
        if (md5hex[32] != '\0') {
            return fail(u, OTK_UPD_BAD_ARG);
        }
        u->md5_expected[32] = '\0';
    }
    u->cmd = cmd;
    u->start = start;
    u->part_size = part_size;
    u->size = size;
    u->erased_until = start;
    u->pre_erased = 0; /* a failed update leaves data behind: erase again afterwards */
    u->crypto->md5_start(&u->md5);
    u->running = true;
    return OTK_UPD_OK;
}

bool
otk_upd_set_md5(struct otk_updater *u, const char *md5hex, size_t len)
{
    char lower[33];

    if (!u->running || len != 32) {
        return false;
    }
    for (size_t i = 0; i < 32; i++) {
        int v = otk__hex_value(md5hex[i]);

        if (v < 0) {
            return false;
        }
        lower[i] = "0123456789abcdef"[v];
    }
    lower[32] = '\0';
    memcpy(u->md5_expected, lower, sizeof lower);
    return true;
}

/* A 64 KB block erase costs about as much as 3.3 (ESP32: 150 / 45 ms) to 4 (ESP8266: 200 / 50
 * ms) sector erases: at the image's tail a block beats the sectors it replaces from this many
 * sectors on. */
#define BLOCK_MIN_SECTORS 4u

/* The erase unit that starts at a: an aligned 64 KB block where the image covers the whole
 * block (one long stall instead of sixteen), else a 4 KB sector. At the tail of an application
 * image a block is used too when the image needs at least BLOCK_MIN_SECTORS of its sectors and
 * the block lies inside the slot: nothing in an app slot outlives the update beyond the image.
 * A filesystem partition is erased sector-exact: what lies beyond the image is left alone. */
static uint32_t
erase_unit(const struct otk_updater *u, uint32_t a)
{
    uint32_t cover_end = u->start + round_sector(u->size);

    if (a % OTK_BLOCK_SIZE != 0) {
        return OTK_SECTOR_SIZE;
    }
    if (cover_end - a >= OTK_BLOCK_SIZE) {
        return OTK_BLOCK_SIZE;
    }
    if (u->cmd == CMD_FLASH && cover_end - a >= BLOCK_MIN_SECTORS * OTK_SECTOR_SIZE &&
        in_target(u, a, OTK_BLOCK_SIZE)) {
        return OTK_BLOCK_SIZE;
    }
    return OTK_SECTOR_SIZE;
}

/* Does [a, a + n) read as erased? Reads in small pieces (the sector buffer holds data waiting
 * to be written) and stops at the first programmed byte, so a programmed unit costs one short
 * read. An erased 64 KB block costs a full read: about 3.3 ms at 20 MB/s (40 MHz QIO), against
 * 150 ms for erasing it. A read error counts as "not erased". */
static bool
reads_erased(const struct otk_updater *u, uint32_t a, uint32_t n)
{
    uint8_t chunk[256];

    for (uint32_t off = 0; off < n; off += (uint32_t)sizeof chunk) {
        if (u->flash->read(u->flash->user, a + off, chunk, sizeof chunk) != 0) {
            return false;
        }
        for (size_t i = 0; i < sizeof chunk; i++) {
            if (chunk[i] != 0xFFu) {
                return false;
            }
        }
    }
    return true;
}

/* Erase the next unit at erased_until, unless it already reads as erased (a slot that was never
 * written, or one erased before a power cut). Skipping is safe: an erase only sets bits, and a
 * unit that reads as all ones is exactly what an erase would leave. */
static enum otk_upd_reason
erase_next(struct otk_updater *u)
{
    uint32_t a = u->erased_until;
    uint32_t n = erase_unit(u, a);

    if (!in_target(u, a, n)) {
        return OTK_UPD_ERASE;
    }
    if (!reads_erased(u, a, n) && u->flash->erase(u->flash->user, a, n) != 0) {
        return OTK_UPD_ERASE;
    }
    u->erased_until = a + n;
    return OTK_UPD_OK;
}

int
otk_upd_erase_ahead(struct otk_updater *u)
{
    uint32_t cover_end, pos, limit;
    enum otk_upd_reason r;

    if (!u->running || u->progress < OTK_IMAGE_HEAD_LEN) {
        return 0; /* nothing is erased before write() has checked the image's chip */
    }
    /* the block being written and the next: far enough to overlap the transfer, near enough
     * that an abandoned update has not erased a slot for nothing */
    cover_end = u->start + round_sector(u->size);
    pos = u->start + (u->progress - u->buf_len);
    limit = (pos - pos % OTK_BLOCK_SIZE) + 2u * OTK_BLOCK_SIZE;
    if (limit > cover_end) {
        limit = cover_end;
    }
    if (u->erased_until >= limit) {
        return 0;
    }
    r = erase_next(u);
    if (r != OTK_UPD_OK) {
        fail(u, r);
        return -1;
    }
    return 1;
}

/* Otadata boots the running slot and its image is confirmed (VALID), or there is no otadata
 * at all (app0 runs, nothing to confirm or roll back). */
static bool
idle_slot_free(const struct otk_updater *u, int running_slot)
{
    struct otk_slots_status st;

    if (otk_slots_read(u->flash, u->layout, &st) != OTK_OK || st.boot_slot != running_slot) {
        return false;
    }
    return st.boot_state == OTK_OTA_VALID || st.active_entry < 0;
}

int
otk_upd_pre_erase(struct otk_updater *u, int running_slot)
{
    int idle = 1 - running_slot;

    if (u->running || (running_slot != 0 && running_slot != 1) ||
        u->pre_erased >= u->layout->app_size[idle]) {
        return 0;
    }
#if OTK_CFG_NATIVE_RESUME
    if (u->resume && u->resume->held) {
        return 0; /* the slot holds the start of an image a reconnecting uploader continues */
    }
#endif
    /* Only if otadata boots the running slot and its image is confirmed: otherwise the other
     * slot is the rollback target, or holds the image an update just activated. Not on
     * UNDEFINED either: otk_slots_confirm() rewrites such an entry, and a power cut in that
     * rewrite hands the boot to the older entry, which selects the other slot. */
    if (!idle_slot_free(u, running_slot)) {
        return 0;
    }
    /* The update's own erase path over the whole idle slot, partition guard included; begin()
     * sets these fields afresh for the next update. */
    u->cmd = CMD_FLASH;
    u->start = u->layout->app_offset[idle];
    u->part_size = u->size = u->layout->app_size[idle];
    u->erased_until = u->start + u->pre_erased;
    if (erase_next(u) != OTK_UPD_OK) {
        return -1;
    }
    u->pre_erased = u->erased_until - u->start;
    return 1;
}

/* Erase what the buffer needs (unless erased ahead already), then write it. */
static enum otk_upd_reason
flush(struct otk_updater *u)
{
    const struct otk_flash_ops *f = u->flash;
    uint32_t addr = u->start + (u->progress - u->buf_len);
    uint32_t end = addr + u->buf_len;

    if (u->buf_len == 0) {
        return OTK_UPD_OK;
    }
    while (u->erased_until < end) {
        enum otk_upd_reason r = erase_next(u);

        if (r != OTK_UPD_OK) {
            return r;
        }
    }
    if (!in_target(u, addr, u->buf_len) || f->write(f->user, addr, u->buf, u->buf_len) != 0) {
        return OTK_UPD_WRITE;
    }
    u->buf_len = 0;
    return OTK_UPD_OK;
}

size_t
otk_upd_write(struct otk_updater *u, const uint8_t *data, size_t len)
{
    size_t done = 0;

    if (!u->running || len == 0) {
        return 0;
    }
    if (data == NULL) {
        fail(u, OTK_UPD_BAD_ARG);
        return 0;
    }
    if (len > u->size - u->progress) {
        fail(u, OTK_UPD_SPACE); /* ESP32: the only place it says "Not Enough Space" */
        return 0;
    }
#if OTK_CFG_NATIVE_RESUME
    if (u->progress == 0 && u->resume) {
        u->resume->held = false; /* the slot is written from byte 0: the old record is void */
    }
#else
    u->crypto->md5_update(&u->md5, data, len); /* one call: the smallest code */
#endif
    while (done < len) {
        size_t n = len - done;

        if (n > OTK_SECTOR_SIZE - u->buf_len) {
            n = OTK_SECTOR_SIZE - u->buf_len;
        }
#if OTK_CFG_NATIVE_RESUME
        /* hashed piece by piece so that the MD5 state at a sector's flush covers exactly the
         * bytes in flash (the resume record's checkpoint) */
        u->crypto->md5_update(&u->md5, data + done, n);
#endif
        memcpy(u->buf + u->buf_len, data + done, n);
        u->buf_len += (uint32_t)n;
        u->progress += (uint32_t)n;
        done += n;
        /* The magic byte and the chip, as soon as the bytes are known (the first sector's
         * buffer starts with them): the cores wait for the first 4 KB or for end(), and an
         * image for another chip is refused before anything is erased, whatever its size. */
        if (u->cmd == CMD_FLASH && u->progress - n < OTK_IMAGE_HEAD_LEN) {
            enum otk_image_result h = otk_image_head_check(u->buf, u->buf_len, u->profile);

            if (h != OTK_IMG_OK) {
                fail(u, h == OTK_IMG_BAD_MAGIC ? OTK_UPD_MAGIC : OTK_UPD_WRONG_CHIP);
                return 0;
            }
        }
        /* A full sector, or the last bytes of the image (as both cores do in write()). */
        if (u->buf_len == OTK_SECTOR_SIZE || u->progress == u->size) {
            enum otk_upd_reason r = flush(u);

            if (r != OTK_UPD_OK) {
                fail(u, r);
                return 0;
            }
#if OTK_CFG_NATIVE_RESUME
            if (u->resume) {
                u->resume->flushed = u->md5;
            }
#endif
        }
    }
    return len;
}

bool
otk_upd_is_finished(const struct otk_updater *u)
{
    /* As on the cores, an aborted (or never started) update counts as finished: their abort
     * resets size and progress to 0, which ends the receive loop of ArduinoOTA. */
    return !u->running || u->progress == u->size;
}

/* ESP.magicFlashChipSize(): the flash size a header's size code announces, as log2(bytes);
 * 0 for codes the core does not check. */
static uint32_t
esp8266_flash_size(uint8_t code)
{
    static const uint8_t log2_size[16] = {19, 18, 20, 21, 22, 0, 0, 0, 23, 24};

    return log2_size[code & 15u] ? 1u << log2_size[code & 15u] : 0;
}

static enum otk_upd_reason
check_image(struct otk_updater *u)
{
    struct otk_image_info info;
    enum otk_image_result r;

    /* The MD5 context is finished: reuse it as SHA-256 scratch. */
    r = otk_image_verify(u->flash, u->crypto, u->start, u->size, u->profile, &u->md5, &info);
    switch (r) {
    case OTK_IMG_OK:
        break;
    case OTK_IMG_GZIP:
        return esp32(u) ? OTK_UPD_MAGIC : OTK_UPD_OK; /* eboot inflates it while copying */
    case OTK_IMG_READ_ERROR:
        return OTK_UPD_READ;
    case OTK_IMG_BAD_MAGIC:
        return OTK_UPD_MAGIC;
    case OTK_IMG_WRONG_CHIP:
        return esp32(u) ? OTK_UPD_ACTIVATE : OTK_UPD_NEW_FLASH_CONFIG;
    default:
        /* ESP32: esp_ota_set_boot_partition() verifies the image and refuses it. */
        return esp32(u) ? OTK_UPD_ACTIVATE : OTK_UPD_BAD_IMAGE;
    }
    if (!esp32(u)) {
        /* Updater::_verifyEnd(): the header's flash size must not exceed the real chip's. */
        uint32_t want = esp8266_flash_size((uint8_t)(info.flash_size_freq >> 4));

        if (want > u->layout->flash_size) {
            return OTK_UPD_NEW_FLASH_CONFIG;
        }
    }
    return OTK_UPD_OK;
}

enum otk_upd_reason
otk_upd_end(struct otk_updater *u)
{
    uint8_t digest[16];
    enum otk_upd_reason r;

    if (!u->running) {
        return u->reason != OTK_UPD_OK ? u->reason : OTK_UPD_NO_DATA;
    }
    if (u->progress == 0 && !esp32(u)) {
        return fail(u, OTK_UPD_NO_DATA); /* ESP8266 end(): "Updating w/o any data" */
    }
    if (u->progress < u->size) {
        return fail(u, OTK_UPD_ABORTED); /* premature end */
    }
    r = flush(u);
    if (r != OTK_UPD_OK) {
        return fail(u, r);
    }
    u->crypto->md5_finish(&u->md5, digest);
    otk_hex(digest, sizeof digest, u->md5_actual);
    if (u->md5_expected[0] != '\0' && strcmp(u->md5_expected, u->md5_actual) != 0) {
        return fail(u, OTK_UPD_MD5); /* both sides lowercase: a case-insensitive compare */
    }
    if (u->cmd == CMD_FLASH) {
        r = check_image(u);
        if (r != OTK_UPD_OK) {
            return fail(u, r);
        }
        int rc = u->activate ? u->activate(u->activate_user, u->start)
                             : otk_slots_set_boot(u->flash, u->layout, u->target_slot);

        if (rc != OTK_OK) {
            return fail(u, OTK_UPD_ACTIVATE);
        }
    }
    u->running = false;
    u->reason = OTK_UPD_OK;
    return OTK_UPD_OK;
}

void
otk_upd_abort(struct otk_updater *u, enum otk_upd_reason why)
{
    fail(u, why == OTK_UPD_OK ? OTK_UPD_ABORTED : why);
}

#if OTK_CFG_NATIVE_RESUME
void
otk_upd_set_resume_store(struct otk_updater *u, struct otk_upd_resume *store)
{
    u->resume = store;
    if (store) {
        memset(store, 0, sizeof *store);
    }
}

void
otk_upd_suspend(struct otk_updater *u, enum otk_upd_reason why)
{
    struct otk_upd_resume *r = u->resume;
    uint32_t written = u->progress - u->buf_len;

    if (r && u->running && u->cmd == CMD_FLASH && u->md5_expected[0] != '\0' && written > 0) {
        r->held = true;
        r->target_slot = u->target_slot;
        r->size = u->size;
        r->written = written;
        memcpy(r->md5, u->md5_expected, sizeof r->md5);
        r->md5_at = r->flushed;
    }
    otk_upd_abort(u, why);
}

static bool
same_image(const struct otk_updater *u)
{
    const struct otk_upd_resume *r = u->resume;

    return r && r->held && u->running && u->progress == 0 && u->cmd == CMD_FLASH &&
           r->target_slot == u->target_slot && r->size == u->size &&
           strcmp(r->md5, u->md5_expected) == 0;
}

uint32_t
otk_upd_resumable(const struct otk_updater *u)
{
    return same_image(u) ? u->resume->written : 0;
}

/* Does the slot still hold what arrived? MD5 of the flash over [0, n) against the MD5 of the
 * received bytes (the record's state), and the image head check on the flash's first bytes. */
static bool
flash_matches_record(struct otk_updater *u, uint32_t n)
{
    union otk_hash_ctx h = u->resume->md5_at;
    uint8_t chunk[256], want[16], got[16];

    if (u->flash->read(u->flash->user, u->start, chunk, OTK_IMAGE_HEAD_LEN) != 0 ||
        otk_image_head_check(chunk, OTK_IMAGE_HEAD_LEN, u->profile) != OTK_IMG_OK) {
        return false;
    }
    u->crypto->md5_finish(&h, want);
    u->crypto->md5_start(&h);
    for (uint32_t off = 0; off < n; off += (uint32_t)sizeof chunk) {
        if (u->flash->read(u->flash->user, u->start + off, chunk, sizeof chunk) != 0) {
            return false;
        }
        u->crypto->md5_update(&h, chunk, sizeof chunk);
    }
    u->crypto->md5_finish(&h, got);
    return memcmp(want, got, sizeof want) == 0;
}

enum otk_upd_reason
otk_upd_resume_at(struct otk_updater *u, uint32_t offset)
{
    if (offset == 0 || offset != otk_upd_resumable(u) || offset % OTK_SECTOR_SIZE != 0) {
        return OTK_UPD_BAD_ARG;
    }
    u->resume->held = false; /* used once: a new drop makes a new record */
    if (!flash_matches_record(u, offset)) {
        return OTK_UPD_READ;
    }
    u->md5 = u->resume->md5_at;
    u->resume->flushed = u->resume->md5_at;
    u->progress = offset;
    u->buf_len = 0;
    /* units beyond read as erased or are erased again (erase_next checks before erasing) */
    u->erased_until = u->start + offset;
    return OTK_UPD_OK;
}

bool
otk_upd_resume_held(const struct otk_updater *u)
{
    return u->resume && u->resume->held;
}

void
otk_upd_resume_forget(struct otk_updater *u)
{
    if (u->resume) {
        u->resume->held = false;
    }
}
#endif

enum otk_upd_reason
otk_upd_reason_of(const struct otk_updater *u)
{
    return u->reason;
}

uint32_t
otk_upd_progress(const struct otk_updater *u)
{
    return u->progress;
}

int
otk_upd_errnum(enum otk_profile p, enum otk_upd_reason r)
{
    if ((size_t)r >= N_REASONS) {
        return -1;
    }
    return reason_num[r][p == OTK_PROFILE_ESP8266 ? NUM_ESP8266 : NUM_ESP32];
}

const char *
otk_upd_reason_str(enum otk_profile p, enum otk_upd_reason r)
{
    if ((size_t)r >= N_REASONS) {
        return "UNKNOWN";
    }
    return p == OTK_PROFILE_ESP8266 ? esp8266_text(r) : reason_text[r];
}

size_t
otk_upd_errtext(const struct otk_updater *u, char *out, size_t cap)
{
    struct otk__sbuf b = {out, cap, 0};

    if (cap == 0) {
        return 0;
    }
    if (u->profile == OTK_PROFILE_ESP8266 && u->reason == OTK_UPD_MD5) {
        /* Updater::getErrorString() of the ESP8266 core */
        otk__sb_str(&b, "MD5 verification failed: expected: ");
        otk__sb_str(&b, u->md5_expected);
        otk__sb_str(&b, ", calculated: ");
        otk__sb_str(&b, u->md5_actual);
    } else if (u->profile == OTK_PROFILE_ESP8266 && u->reason == OTK_UPD_NEW_FLASH_CONFIG) {
        otk__sb_str(&b, "new Flash config wrong, real size: ");
        otk__sb_uint(&b, u->layout->flash_size);
    } else {
        otk__sb_str(&b, otk_upd_reason_str(u->profile, u->reason));
    }
    return b.n;
}
