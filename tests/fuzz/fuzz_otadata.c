/* SPDX-License-Identifier: MIT */
/* A/B slot selection on arbitrary otadata: the first 64 bytes of the input are the two 32-byte
 * entries (one per sector), the rest a sequence of operations (read, boot, confirm, set boot
 * 0 or 1), each optionally cut by a power loss at its first or second flash operation. A boot
 * is otk_slots_boot() or the whole decision, otk_boot_decide(), with each slot's image check
 * answered by the input. The selection must always name slot 0 or 1, every write must respect
 * the NOR rules, and a completed operation must leave what it promises. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_ramflash.h"
#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/slots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_ok(struct ramflash *rf, const struct otk_layout *l, struct otk_slots_status *st)
{
    FUZZ_CHECK(otk_slots_read(&rf->ops, l, st) == OTK_OK);
    FUZZ_CHECK(st->boot_slot == 0 || st->boot_slot == 1);
    FUZZ_CHECK(st->active_entry >= -1 && st->active_entry <= 1);
    FUZZ_CHECK(st->active_entry < 0 || st->valid[st->active_entry]);
    FUZZ_CHECK(otk_ota_state_str(st->boot_state) != NULL);
}

#define SLOT0_AT 0x10000u /* the slots' offsets: only the verifier below sees them */
#define SLOT1_AT 0x20000u

/* The image check's verdicts come from the input: bit s set = slot s holds a good image. */
static enum otk_image_result
verdict(void *user, uint32_t offset, uint32_t size, struct otk_image_info *info)
{
    uint8_t good = *(const uint8_t *)user;
    int slot = offset == SLOT1_AT ? 1 : 0;

    (void)size;
    FUZZ_CHECK(offset == SLOT0_AT || offset == SLOT1_AT);
    info->has_app_desc = false;
    return (good >> slot) & 1 ? OTK_IMG_OK : OTK_IMG_BAD_HASH;
}

/* The whole boot decision: it never fails on otadata, and runs a slot whose image is good. */
static int
decide(struct ramflash *rf, const struct otk_layout *l, uint8_t good, int *slot, bool *rolled)
{
    struct otk_boot_decision d;
    int other;

    FUZZ_CHECK(otk_boot_decide(&rf->ops, l, verdict, &good, &d, NULL) == OTK_OK);
    FUZZ_CHECK(d.selected_slot == 0 || d.selected_slot == 1);
    other = 1 - d.selected_slot;
    if ((good >> d.selected_slot) & 1)
        FUZZ_CHECK(d.slot == d.selected_slot && !d.fallback);
    else if ((good >> other) & 1)
        FUZZ_CHECK(d.slot == other && d.fallback && d.state == OTK_OTA_UNDEFINED);
    else
        FUZZ_CHECK(d.slot == -1 && !d.fallback);
    FUZZ_CHECK(d.rolled_back == (d.why == OTK_BOOT_ROLLBACK));
    FUZZ_CHECK((d.otadata_rc != OTK_OK) == (d.why == OTK_BOOT_OTADATA_ERROR));
    FUZZ_CHECK(d.otadata_rc == OTK_OK || d.selected_slot == 0);
    FUZZ_CHECK(d.entry >= -1 && d.entry <= 1);
    FUZZ_CHECK(d.entry >= 0 || d.state == OTK_OTA_UNDEFINED);
    *slot = d.selected_slot;
    *rolled = d.rolled_back;
    return d.otadata_rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    struct otk_layout l;
    struct ramflash rf;
    const uint8_t *e;
    size_t n;

    memset(&l, 0, sizeof l);
    l.flash_size = 2 * 4096;
    l.otadata_offset = 0;
    l.app_offset[0] = SLOT0_AT;
    l.app_offset[1] = SLOT1_AT;
    ramflash_init(&rf, 2 * 4096);
    rf.fail_on_misuse = false;
    n = fin_take(&in, 32, &e);
    ramflash_load(&rf, 0, e, n);
    n = fin_take(&in, 32, &e);
    ramflash_load(&rf, 4096, e, n);
    for (int steps = 0; fin_more(&in) && steps < 64; steps++) {
        uint8_t b = fin_u8(&in);
        int op = b % 5;
        bool cut = (b >> 3) & 1;
        struct otk_slots_status before, after;
        int rc = OTK_OK, slot = -1;
        bool rolled = false;

        read_ok(&rf, &l, &before);
        if (cut)
            ramflash_cut_after(&rf, (b >> 4) & 1, (b >> 5) & 1);
        switch (op) {
        case 0:
            break;
        case 1:
            if ((b >> 6) & 1)
                rc = decide(&rf, &l, fin_u8(&in), &slot, &rolled);
            else
                rc = otk_slots_boot(&rf.ops, &l, &slot, &rolled);
            if (rc == OTK_OK)
                FUZZ_CHECK(slot == 0 || slot == 1);
            break;
        case 2:
            rc = otk_slots_confirm(&rf.ops, &l);
            break;
        default:
            rc = otk_slots_set_boot(&rf.ops, &l, op - 3);
            break;
        }
        ramflash_power_on(&rf);
        FUZZ_CHECK(rf.misuse == 0);
        read_ok(&rf, &l, &after);
        if (rc != OTK_OK) {
            /* cut short: a set_boot leaves the old choice or the new one */
            if (op >= 3)
                FUZZ_CHECK(after.boot_slot == before.boot_slot || after.boot_slot == op - 3);
            continue;
        }
        switch (op) {
        case 0:
            FUZZ_CHECK(memcmp(&before, &after, sizeof before) == 0);
            break;
        case 1:
            /* a rollback abandons the winner; otherwise the winner boots */
            if (!rolled)
                FUZZ_CHECK(slot == before.boot_slot);
            else
                FUZZ_CHECK(before.boot_state == OTK_OTA_PENDING_VERIFY);
            break;
        case 2:
            FUZZ_CHECK(after.active_entry < 0 || after.boot_state == OTK_OTA_VALID);
            FUZZ_CHECK(after.boot_slot == before.boot_slot);
            break;
        default:
            FUZZ_CHECK(after.boot_slot == op - 3);
            FUZZ_CHECK(after.boot_state == OTK_OTA_NEW);
            break;
        }
    }
    ramflash_free(&rf);
    return 0;
}
