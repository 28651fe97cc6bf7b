/* SPDX-License-Identifier: MIT */
/* A/B slot selection through an ESP-IDF compatible otadata partition: two 4 KB sectors, each
 * holding one 32-byte entry {seq u32, label[20], state u32, crc u32}, all little endian.
 *
 * Power-cut reasoning, used throughout: at any moment at most one of the two sectors is being
 * changed, and a sector that is half erased or half written fails its CRC (or holds 0xFF...),
 * so the selection falls back to the other, untouched sector. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/slots.h"

#include "bytes.h"

#define ENTRY_LEN 32u
#define LABEL_LEN 20u

/* ESP-IDF's esp_rom_crc32_le(crc, buf, len): reflected CRC-32 (polynomial 0xEDB88320) that
 * inverts the value on the way in and on the way out. Called with crc = UINT32_MAX, as ESP-IDF
 * does for otadata, the register therefore starts at 0 - this is NOT zlib's crc32(buf), which
 * starts the register at 0xFFFFFFFF (for seq = 1: 0x4743989A here, 0x99F8B879 in zlib).
 * Bitwise: eight shifts per byte cost nothing for a 4-byte input and need no table. */
static uint32_t
crc32_le(uint32_t crc, const uint8_t *buf, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static uint32_t
seq_crc(uint32_t seq)
{
    uint8_t b[4];

    otk__put_u32(b, seq);
    return crc32_le(UINT32_MAX, b, sizeof b);
}

static bool
entry_valid(const struct otk_otadata_entry *e)
{
    return e->seq != 0 && e->seq != UINT32_MAX && e->crc == seq_crc(e->seq);
}

/* ESP-IDF's bootloader skips entries whose image was rejected. */
static bool
entry_selectable(const struct otk_otadata_entry *e, bool valid)
{
    return valid && e->state != OTK_OTA_INVALID && e->state != OTK_OTA_ABORTED;
}

static int
slot_of(uint32_t seq)
{
    return (int)((seq - 1u) % 2u);
}

/* An entry is stored as it is laid out in struct otk_otadata_entry, words little endian: the
 * bytes go straight into the struct and each word is read back from its own bytes (a no-op on
 * the little-endian chips, a swap on any other host). */
_Static_assert(sizeof(struct otk_otadata_entry) == ENTRY_LEN, "otadata entry layout");

static uint32_t
entry_addr(const struct otk_layout *l, int i)
{
    return l->otadata_offset + (uint32_t)i * OTK_SECTOR_SIZE;
}

static int
read_entry(const struct otk_flash_ops *f, const struct otk_layout *l, int i,
           struct otk_otadata_entry *e)
{
    if (f->read(f->user, entry_addr(l, i), e, ENTRY_LEN) != OTK_OK) {
        return OTK_ERR_FLASH;
    }
    e->seq = otk__get_u32((const uint8_t *)&e->seq);
    e->state = otk__get_u32((const uint8_t *)&e->state);
    e->crc = otk__get_u32((const uint8_t *)&e->crc);
    return OTK_OK;
}

/* Erase the entry's sector, then write the entry. A cut after the erase leaves this sector
 * empty (invalid); a cut inside the write leaves a prefix of the entry whose crc field is still
 * 0xFFFFFFFF or wrong, so it is invalid too: either way the other sector decides. */
static int
write_entry(const struct otk_flash_ops *f, const struct otk_layout *l, int i,
            const struct otk_otadata_entry *e)
{
    struct otk_otadata_entry b = *e;
    uint32_t addr = entry_addr(l, i);

    otk__put_u32((uint8_t *)&b.seq, e->seq);
    otk__put_u32((uint8_t *)&b.state, e->state);
    otk__put_u32((uint8_t *)&b.crc, e->crc);
    if (f->erase(f->user, addr, OTK_SECTOR_SIZE) != OTK_OK) {
        return OTK_ERR_FLASH;
    }
    if (f->write(f->user, addr, &b, ENTRY_LEN) != OTK_OK) {
        return OTK_ERR_FLASH;
    }
    return OTK_OK;
}

int
otk_slots_read(const struct otk_flash_ops *f, const struct otk_layout *l,
               struct otk_slots_status *st)
{
    if (f == NULL || l == NULL || st == NULL) {
        return OTK_ERR_ARG;
    }
    memset(st, 0, sizeof *st);
    st->active_entry = -1;
    st->boot_slot = 0; /* factory state: no valid entry boots app0, as ESP-IDF does */
    st->boot_state = OTK_OTA_UNDEFINED;
    for (int i = 0; i < 2; i++) {
        if (read_entry(f, l, i, &st->entry[i]) != OTK_OK) {
            return OTK_ERR_FLASH;
        }
        st->valid[i] = entry_valid(&st->entry[i]);
        if (entry_selectable(&st->entry[i], st->valid[i]) &&
            (st->active_entry < 0 || st->entry[i].seq > st->entry[0].seq)) {
            st->active_entry = i; /* for i == 1, an active entry can only be entry 0 */
        }
    }
    /* boot_slot is otadata's choice. A PENDING_VERIFY winner is the image running right now
     * (before it confirmed itself); only otk_slots_boot() at the next reset rolls it back. */
    if (st->active_entry >= 0) {
        st->boot_slot = slot_of(st->entry[st->active_entry].seq);
        st->boot_state = st->entry[st->active_entry].state;
    }
    return OTK_OK;
}

int
otk_slots_entry_slot(const struct otk_slots_status *st, int k)
{
    if (st == NULL || (k != 0 && k != 1) || !st->valid[k]) {
        return -1;
    }
    return slot_of(st->entry[k].seq);
}

int
otk_slots_set_boot(const struct otk_flash_ops *f, const struct otk_layout *l, int slot)
{
    struct otk_slots_status st;
    struct otk_otadata_entry e;
    uint32_t max_seq = 0;
    int target;
    int rc;

    if (slot != 0 && slot != 1) {
        return OTK_ERR_ARG;
    }
    rc = otk_slots_read(f, l, &st);
    if (rc != OTK_OK) {
        return rc;
    }
    /* Count every entry with a good CRC, aborted ones too, so a sequence number is never
     * reused. */
    for (int i = 0; i < 2; i++) {
        if (st.valid[i] && st.entry[i].seq > max_seq) {
            max_seq = st.entry[i].seq;
        }
    }
    if (max_seq >= UINT32_MAX - 2u) {
        return OTK_ERR_RANGE; /* the next seq would be 0xFFFFFFFF, which reads as erased */
    }
    e.seq = max_seq + 1u;
    if (slot_of(e.seq) != slot) {
        e.seq++;
    }
    memset(e.label, 0xFF, sizeof e.label); /* ESP-IDF leaves the label erased */
    e.state = OTK_OTA_NEW;
    e.crc = seq_crc(e.seq);
    /* Never touch the sector of the current winner: until the new entry is complete, the old
     * one keeps selecting the running image. With no winner there is nothing to protect. */
    target = st.active_entry >= 0 ? 1 - st.active_entry : 0;
    return write_entry(f, l, target, &e);
}

/* Rewrite the winner's own sector with a new state. A cut between the erase and the end of the
 * write invalidates this entry, so the other sector's entry (the previous winner) or, with none,
 * app0 is chosen instead - the same image a rollback would pick, which is a bootable choice. */
static int
rewrite_state(const struct otk_flash_ops *f, const struct otk_layout *l,
              const struct otk_slots_status *st, uint32_t state)
{
    struct otk_otadata_entry e = st->entry[st->active_entry];

    e.state = state;
    return write_entry(f, l, st->active_entry, &e);
}

int
otk_slots_boot(const struct otk_flash_ops *f, const struct otk_layout *l, int *slot,
               bool *rolled_back)
{
    struct otk_slots_status st;
    int rc;
    int other;

    if (slot == NULL || rolled_back == NULL) {
        return OTK_ERR_ARG;
    }
    *slot = 0;
    *rolled_back = false;
    rc = otk_slots_read(f, l, &st);
    if (rc != OTK_OK) {
        return rc;
    }
    if (st.active_entry < 0) {
        return OTK_OK; /* factory state: app0 */
    }
    *slot = st.boot_slot;
    switch (st.boot_state) {
    case OTK_OTA_NEW:
        /* First boot of a new image: from now on it must confirm itself before the next reset. */
        return rewrite_state(f, l, &st, OTK_OTA_PENDING_VERIFY);
    case OTK_OTA_PENDING_VERIFY:
        /* It booted once and never confirmed: give up on it. */
        *rolled_back = true;
        other = 1 - st.active_entry;
        *slot =
            entry_selectable(&st.entry[other], st.valid[other]) ? slot_of(st.entry[other].seq) : 0;
        return rewrite_state(f, l, &st, OTK_OTA_ABORTED);
    default:
        return OTK_OK; /* VALID, UNDEFINED (written without rollback support) */
    }
}

int
otk_slots_confirm(const struct otk_flash_ops *f, const struct otk_layout *l)
{
    struct otk_slots_status st;
    int rc = otk_slots_read(f, l, &st);

    if (rc != OTK_OK) {
        return rc;
    }
    if (st.active_entry < 0 || st.boot_state == OTK_OTA_VALID) {
        return OTK_OK; /* factory image or already confirmed: nothing to write */
    }
    /* As esp_ota_mark_app_valid_cancel_rollback(): whatever the state, the running image is
     * now known good. */
    return rewrite_state(f, l, &st, OTK_OTA_VALID);
}

const char *
otk_ota_state_str(uint32_t state)
{
    switch (state) {
    case OTK_OTA_NEW:
        return "NEW";
    case OTK_OTA_PENDING_VERIFY:
        return "PENDING_VERIFY";
    case OTK_OTA_VALID:
        return "VALID";
    case OTK_OTA_INVALID:
        return "INVALID";
    case OTK_OTA_ABORTED:
        return "ABORTED";
    case OTK_OTA_UNDEFINED:
        return "UNDEFINED";
    default:
        return "unknown";
    }
}
