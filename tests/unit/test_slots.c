/* SPDX-License-Identifier: MIT */
/* otadata: the ESP-IDF entry format and CRC, slot selection, set_boot / boot / confirm,
 * rollback, and power cuts at every flash operation of each of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/layout.h"
#include "otakit/slots.h"

#define FLASH_SIZE 0x400000u

struct fx {
    struct ramflash rf;
    struct otk_layout l;
};

static int
setup(void **state)
{
    static struct fx f;
    struct otk_partition p[8];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    ramflash_init(&f.rf, FLASH_SIZE);
    assert_int_equal(otk_layout_from_parts(p, n, FLASH_SIZE, &f.l), OTK_OK);
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    ramflash_free(&f->rf);
    return 0;
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Reference for the test, written differently from the library (nibble table): ESP-IDF's
 * esp_rom_crc32_le(crc, buf, len) = ~crc32_update(~crc, buf, len) with the reflected
 * polynomial 0xEDB88320. Python: zlib.crc32(buf, 0xFFFFFFFF) computes the same thing. */
static uint32_t
ref_crc(uint32_t seq)
{
    static const uint32_t nib[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    uint32_t crc = ~0xFFFFFFFFu; /* the ROM inverts the UINT32_MAX it is given: starts at 0 */

    for (int i = 0; i < 4; i++) {
        crc ^= (seq >> (8 * i)) & 0xFFu;
        crc = (crc >> 4) ^ nib[crc & 15u];
        crc = (crc >> 4) ^ nib[crc & 15u];
    }
    return ~crc;
}

/* Put a raw entry into otadata sector i (test setup, bypassing the library). */
static void
put_entry(struct fx *f, int i, uint32_t seq, uint32_t state, uint32_t crc)
{
    uint8_t e[32];

    memset(e, 0xFF, sizeof e);
    for (int b = 0; b < 4; b++) {
        e[b] = (uint8_t)(seq >> (8 * b));
        e[24 + b] = (uint8_t)(state >> (8 * b));
        e[28 + b] = (uint8_t)(crc >> (8 * b));
    }
    memset(f->rf.mem + f->l.otadata_offset + (uint32_t)i * 4096u, 0xFF, 4096);
    ramflash_load(&f->rf, f->l.otadata_offset + (uint32_t)i * 4096u, e, sizeof e);
}

static const uint8_t *
sector(struct fx *f, int i)
{
    return f->rf.mem + f->l.otadata_offset + (uint32_t)i * 4096u;
}

static int
boot(struct fx *f, bool *rolled)
{
    int slot = -1;

    assert_int_equal(otk_slots_boot(&f->rf.ops, &f->l, &slot, rolled), OTK_OK);
    return slot;
}

static void
crc_matches_esp_idf(void **state)
{
    struct fx *f = *state;
    const uint8_t *e = sector(f, 0);

    /* The value from a real ESP-IDF otadata entry with seq = 1, confirmed by the reference
     * above (and not zlib's plain crc32 of 01 00 00 00, which is 0x99F8B879). */
    assert_int_equal(ref_crc(1), 0x4743989Au);
    assert_int_equal(ref_crc(2), 0x55F63774u);

    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 0), OTK_OK);
    assert_int_equal(le32(e), 1);
    for (int i = 4; i < 24; i++) {
        assert_int_equal(e[i], 0xFF); /* label left erased */
    }
    assert_int_equal(le32(e + 24), OTK_OTA_NEW);
    assert_int_equal(le32(e + 28), 0x4743989Au);
    for (int i = 32; i < 4096; i++) {
        assert_int_equal(e[i], 0xFF);
    }
    /* and the library accepts entries made by the reference for many seqs */
    for (uint32_t seq = 1; seq < 2000; seq += 37) {
        struct otk_slots_status st;

        put_entry(f, 1, seq, OTK_OTA_VALID, ref_crc(seq));
        put_entry(f, 0, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu);
        assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
        assert_true(st.valid[1]);
        assert_int_equal(st.active_entry, 1);
        assert_int_equal(st.boot_slot, (int)((seq - 1) % 2));
    }
}

static void
factory_state(void **state)
{
    struct fx *f = *state;
    struct otk_slots_status st;
    bool rolled = true;

    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, -1);
    assert_int_equal(st.boot_slot, 0);
    assert_int_equal(st.boot_state, OTK_OTA_UNDEFINED);
    assert_false(st.valid[0]);
    assert_false(st.valid[1]);
    assert_int_equal(boot(f, &rolled), 0);
    assert_false(rolled);
    assert_int_equal(otk_slots_confirm(&f->rf.ops, &f->l), OTK_OK);
    assert_int_equal(f->rf.mutations, 0);
}

static void
update_cycle(void **state)
{
    struct fx *f = *state;
    struct otk_slots_status st;
    bool rolled = true;
    uint8_t before[4096];

    /* factory app0 -> app1 */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 0); /* no winner before: sector 0 */
    assert_int_equal(st.entry[0].seq, 2); /* smallest seq > 0 with (seq-1)%2 == 1 */
    assert_int_equal(st.boot_slot, 1);
    assert_int_equal(st.boot_state, OTK_OTA_NEW);

    assert_int_equal(boot(f, &rolled), 1);
    assert_false(rolled);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.boot_state, OTK_OTA_PENDING_VERIFY);
    assert_int_equal(otk_slots_confirm(&f->rf.ops, &f->l), OTK_OK);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.boot_state, OTK_OTA_VALID);
    assert_int_equal(st.boot_slot, 1);

    /* confirmed: boots stay on app1 and write nothing */
    {
        unsigned long m = f->rf.mutations;

        assert_int_equal(boot(f, &rolled), 1);
        assert_int_equal(boot(f, &rolled), 1);
        assert_int_equal(otk_slots_confirm(&f->rf.ops, &f->l), OTK_OK);
        assert_int_equal(f->rf.mutations, m);
    }

    /* app1 -> app0: seq 3 goes to sector 1, the winner's sector 0 is not touched */
    memcpy(before, sector(f, 0), sizeof before);
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 0), OTK_OK);
    assert_memory_equal(before, sector(f, 0), sizeof before);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 1);
    assert_int_equal(st.entry[1].seq, 3);
    assert_int_equal(st.boot_slot, 0);

    /* set_boot twice for the same slot before a reboot: seq keeps growing (5, not 3 again) */
    memcpy(before, sector(f, 1), sizeof before);
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 0), OTK_OK);
    assert_memory_equal(before, sector(f, 1), sizeof before);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 0);
    assert_int_equal(st.entry[0].seq, 5);
    assert_int_equal(st.boot_slot, 0);

    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 2), OTK_ERR_ARG);
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, -1), OTK_ERR_ARG);
}

static void
rollback(void **state)
{
    struct fx *f = *state;
    struct otk_slots_status st;
    bool rolled = false;
    unsigned long m;

    /* running app0 confirmed (seq 3 in sector 1), then an update to app1 */
    put_entry(f, 1, 3, OTK_OTA_VALID, ref_crc(3));
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.entry[0].seq, 4);
    assert_int_equal(boot(f, &rolled), 1); /* first boot of the new image */
    assert_false(rolled);
    /* it crashes before confirming: the next boot goes back to app0 */
    assert_int_equal(boot(f, &rolled), 0);
    assert_true(rolled);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.entry[0].state, OTK_OTA_ABORTED);
    assert_true(st.valid[0]);
    assert_int_equal(st.active_entry, 1);
    assert_int_equal(st.boot_slot, 0);
    /* stable from now on, without writes */
    m = f->rf.mutations;
    assert_int_equal(boot(f, &rolled), 0);
    assert_false(rolled);
    assert_int_equal(f->rf.mutations, m);
    /* the next update never reuses the aborted seq 4: app1 gets 6 */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.entry[0].seq, 6);
    assert_int_equal(st.active_entry, 0);
}

static void
rollback_without_other_entry(void **state)
{
    struct fx *f = *state;
    bool rolled = false;

    /* factory app0 (no otadata) -> app1, never confirmed */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    assert_int_equal(boot(f, &rolled), 1);
    assert_int_equal(boot(f, &rolled), 0); /* the only other choice: app0 */
    assert_true(rolled);
    assert_int_equal(boot(f, &rolled), 0);
    assert_false(rolled);
}

static void
selection_rules(void **state)
{
    struct fx *f = *state;
    struct otk_slots_status st;

    /* bad CRC: ignored */
    put_entry(f, 0, 7, OTK_OTA_VALID, ref_crc(7) ^ 1u);
    put_entry(f, 1, 2, OTK_OTA_VALID, ref_crc(2));
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_false(st.valid[0]);
    assert_int_equal(st.active_entry, 1);
    assert_int_equal(st.boot_slot, 1);
    /* higher seq wins */
    put_entry(f, 0, 7, OTK_OTA_VALID, ref_crc(7));
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 0);
    assert_int_equal(st.boot_slot, 0);
    /* INVALID and ABORTED are skipped */
    put_entry(f, 0, 7, OTK_OTA_INVALID, ref_crc(7));
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 1);
    put_entry(f, 0, 7, OTK_OTA_ABORTED, ref_crc(7));
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(st.active_entry, 1);
    /* seq 0 is invalid even with a matching CRC */
    put_entry(f, 0, 0, OTK_OTA_VALID, ref_crc(0));
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_false(st.valid[0]);
    /* UNDEFINED (written without rollback support) boots as it is */
    put_entry(f, 0, 9, OTK_OTA_UNDEFINED, ref_crc(9));
    {
        bool rolled;

        assert_int_equal(boot(f, &rolled), 0);
        assert_false(rolled);
    }
    /* seq exhausted */
    put_entry(f, 0, 0xFFFFFFFDu, OTK_OTA_VALID, ref_crc(0xFFFFFFFDu));
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_ERR_RANGE);
    /* read error */
    ramflash_cut_after(&f->rf, 0, false);
    assert_int_equal(f->rf.ops.erase(f->rf.ops.user, 0x300000, 4096), OTK_ERR_FLASH);
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_ERR_FLASH);
    ramflash_power_on(&f->rf);

    assert_string_equal(otk_ota_state_str(OTK_OTA_PENDING_VERIFY), "PENDING_VERIFY");
    assert_string_equal(otk_ota_state_str(OTK_OTA_UNDEFINED), "UNDEFINED");
    assert_string_equal(otk_ota_state_str(77), "unknown");
}

enum op { OP_SET_BOOT, OP_FIRST_BOOT, OP_CONFIRM, OP_ROLLBACK };

/* Bring otadata into the state before `op`: app0 confirmed (seq 1 in sector 0), plus for the
 * later ops an update to app1 that went as far as the op needs. */
static void
prepare(struct fx *f, enum op op)
{
    bool rolled;

    memset(f->rf.mem + f->l.otadata_offset, 0xFF, 0x2000);
    put_entry(f, 0, 1, OTK_OTA_VALID, ref_crc(1));
    if (op >= OP_FIRST_BOOT) {
        assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    }
    if (op >= OP_CONFIRM) {
        assert_int_equal(boot(f, &rolled), 1);
    }
}

static int
run_op(struct fx *f, enum op op)
{
    bool rolled;
    int slot;

    switch (op) {
    case OP_SET_BOOT:
        return otk_slots_set_boot(&f->rf.ops, &f->l, 1);
    case OP_FIRST_BOOT:
    case OP_ROLLBACK:
        return otk_slots_boot(&f->rf.ops, &f->l, &slot, &rolled);
    case OP_CONFIRM:
        return otk_slots_confirm(&f->rf.ops, &f->l);
    }
    return OTK_ERR_ARG;
}

/* For each operation: count its flash ops, then cut the power at each of them (not applied,
 * and half applied). After power returns the next boot must choose a slot whose state makes
 * sense: the old choice if the operation did not complete. */
static void
power_cuts(void **state)
{
    struct fx *f = *state;
    /* the slot a reset picks after the op completed / when it was cut */
    static const int done_slot[] = {1, 1, 1, 0};

    for (int op = OP_SET_BOOT; op <= OP_ROLLBACK; op++) {
        unsigned long n;
        bool rolled;

        if (op == OP_ROLLBACK) {
            /* the state before a rollback: app1 booted once (PENDING_VERIFY) */
            prepare(f, OP_CONFIRM);
        } else {
            prepare(f, (enum op)op);
        }
        n = f->rf.mutations;
        assert_int_equal(run_op(f, (enum op)op), OTK_OK);
        n = f->rf.mutations - n;
        assert_int_equal(n, 2); /* erase + write of one sector */
        {
            struct otk_slots_status st;

            assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
            assert_int_equal(st.boot_slot, done_slot[op]);
        }
        for (unsigned long k = 0; k < n; k++) {
            for (int partial = 0; partial < 2; partial++) {
                int slot;

                prepare(f, op == OP_ROLLBACK ? OP_CONFIRM : (enum op)op);
                ramflash_cut_after(&f->rf, k, partial != 0);
                assert_int_equal(run_op(f, (enum op)op), OTK_ERR_FLASH);
                ramflash_power_on(&f->rf);
                slot = boot(f, &rolled);
                /* A cut rewrite of an entry loses that entry: back to app0, the same choice a
                 * rollback makes. Only an erase cut before it changed anything leaves the NEW
                 * entry of the first boot in place, which then simply boots. */
                assert_int_equal(slot, (op == OP_FIRST_BOOT && k == 0 && !partial) ? 1 : 0);
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(crc_matches_esp_idf, setup, teardown),
        cmocka_unit_test_setup_teardown(factory_state, setup, teardown),
        cmocka_unit_test_setup_teardown(update_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_without_other_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(selection_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(power_cuts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
