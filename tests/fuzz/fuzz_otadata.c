/* SPDX-License-Identifier: MIT */
/* A/B slot selection on arbitrary otadata: the first 64 bytes of the input are the two 32-byte
 * entries (one per sector), the rest a sequence of operations (read, boot, confirm, set boot
 * 0 or 1), each optionally cut by a power loss at its first or second flash operation. The
 * selection must always name slot 0 or 1, every write must respect the NOR rules, and a
 * completed operation must leave what it promises. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_ramflash.h"
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
