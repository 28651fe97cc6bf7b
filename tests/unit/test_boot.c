/* SPDX-License-Identifier: MIT */
/* The bootloader's decision (otk_boot_decide): otadata's record, the factory state, the
 * rollback of an unconfirmed image, the fallback to the other slot when the chosen image does
 * not verify, nothing bootable, and otadata that cannot be written. Real images (imagegen) in a
 * NOR flash model, checked with the real verifier and mbedTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_ramflash.h"
#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/layout.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

#define FLASH_SIZE 0x400000u
#define IMG_SIZE   20000u

struct fx {
    struct ramflash rf;
    struct otk_layout l;
    int verify_calls;
};

static int
setup(void **state)
{
    static struct fx f;
    struct otk_partition p[8];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    ramflash_init(&f.rf, FLASH_SIZE);
    assert_int_equal(otk_layout_from_parts(p, n, FLASH_SIZE, &f.l), OTK_OK);
    f.verify_calls = 0;
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

static enum otk_image_result
verify_esp32(void *user, uint32_t offset, uint32_t size, struct otk_image_info *info)
{
    struct fx *f = user;
    union otk_hash_ctx ctx;

    f->verify_calls++;
    return otk_image_verify(&f->rf.ops, otk_posix_crypto(), offset, size, OTK_PROFILE_ESP32, &ctx,
                            info);
}

static void
put_image(struct fx *f, int slot, const char *version)
{
    uint8_t img[IMG_SIZE];

    assert_int_equal(
        otk_imagegen(OTK_PROFILE_ESP32, "boottest", version, IMG_SIZE, 7, img, sizeof img),
        (int)IMG_SIZE);
    ramflash_load(&f->rf, f->l.app_offset[slot], img, sizeof img);
}

static void
decide(struct fx *f, struct otk_boot_decision *d, struct otk_image_info *info)
{
    assert_int_equal(otk_boot_decide(&f->rf.ops, &f->l, verify_esp32, f, d, info), OTK_OK);
}

static void
factory_state_boots_slot0(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;
    struct otk_image_info info;

    put_image(f, 0, "1.0.0");
    decide(f, &d, &info);
    assert_int_equal(d.slot, 0);
    assert_int_equal(d.selected_slot, 0);
    assert_int_equal(d.why, OTK_BOOT_FACTORY);
    assert_int_equal(d.verify, OTK_IMG_OK);
    assert_int_equal(d.otadata_rc, OTK_OK);
    assert_false(d.rolled_back);
    assert_false(d.fallback);
    assert_true(d.state == OTK_OTA_UNDEFINED);
    assert_int_equal(d.entry, -1);
    assert_string_equal(info.version, "1.0.0");
    assert_int_equal(f->verify_calls, 1); /* the other slot is not checked */
    assert_string_equal(otk_boot_why_str(d.why), "factory");
}

/* A new image boots once on trial (NEW -> PENDING_VERIFY); never confirmed, the next reset
 * rolls back to the image before it. */
static void
new_image_then_rollback(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;
    struct otk_image_info info;

    put_image(f, 0, "1.0.0");
    put_image(f, 1, "2.0.0");
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    decide(f, &d, &info);
    assert_int_equal(d.slot, 1);
    assert_int_equal(d.why, OTK_BOOT_RECORD);
    assert_true(d.state == OTK_OTA_PENDING_VERIFY);
    assert_int_equal(d.entry, 0); /* the first record goes to sector 0 */
    assert_false(d.rolled_back);
    assert_string_equal(info.version, "2.0.0");

    decide(f, &d, &info);
    assert_int_equal(d.slot, 0);
    assert_int_equal(d.selected_slot, 0);
    assert_int_equal(d.why, OTK_BOOT_ROLLBACK);
    assert_true(d.rolled_back);
    assert_false(d.fallback);
    assert_true(d.state == OTK_OTA_UNDEFINED); /* slot 0 was the factory image: no record */
    assert_string_equal(info.version, "1.0.0");

    /* confirmed instead, it stays */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    decide(f, &d, NULL);
    assert_int_equal(otk_slots_confirm(&f->rf.ops, &f->l), OTK_OK);
    decide(f, &d, &info);
    assert_int_equal(d.slot, 1);
    assert_int_equal(d.why, OTK_BOOT_RECORD);
    assert_true(d.state == OTK_OTA_VALID);
    /* the aborted record wins nothing, so the new one replaced it in sector 0 */
    assert_int_equal(d.entry, 0);
    assert_false(d.rolled_back);

    /* the next update keeps that record and writes sector 1 */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 0), OTK_OK);
    decide(f, &d, &info);
    assert_int_equal(d.slot, 0);
    assert_int_equal(d.entry, 1);
    assert_true(d.state == OTK_OTA_PENDING_VERIFY);
}

static void
damaged_choice_falls_back(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;
    struct otk_image_info info;

    put_image(f, 0, "1.0.0");
    put_image(f, 1, "2.0.0");
    f->rf.mem[f->l.app_offset[1] + IMG_SIZE / 2] ^= 0x01;
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    decide(f, &d, &info);
    assert_int_equal(d.selected_slot, 1);
    assert_int_not_equal(d.selected_verify, OTK_IMG_OK);
    assert_int_equal(d.slot, 0);
    assert_int_equal(d.verify, OTK_IMG_OK);
    assert_true(d.fallback);
    assert_true(d.state == OTK_OTA_UNDEFINED); /* otadata names slot 1: nothing to confirm */
    assert_int_equal(d.entry, -1);
    assert_string_equal(info.version, "1.0.0");
    assert_int_equal(f->verify_calls, 2);
}

static void
nothing_bootable(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;
    struct otk_image_info info;

    decide(f, &d, &info);
    assert_int_equal(d.slot, -1);
    assert_int_equal(d.selected_slot, 0);
    assert_int_equal(d.verify, OTK_IMG_BAD_MAGIC);
    assert_int_equal(d.selected_verify, OTK_IMG_BAD_MAGIC);
    assert_false(d.fallback);
    assert_false(info.has_app_desc);
}

/* The first boot must rewrite otadata (NEW -> PENDING_VERIFY); with the flash failing, the
 * bootloader starts slot 0, as ESP-IDF's does with an unusable otadata. */
static void
unwritable_otadata_starts_slot0(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;

    put_image(f, 0, "1.0.0");
    put_image(f, 1, "2.0.0");
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK);
    f->rf.fail_on_misuse = false;
    ramflash_cut_after(&f->rf, 0, false);
    assert_int_equal(otk_boot_decide(&f->rf.ops, &f->l, verify_esp32, f, &d, NULL), OTK_OK);
    assert_int_equal(d.why, OTK_BOOT_OTADATA_ERROR);
    assert_int_equal(d.otadata_rc, OTK_ERR_FLASH);
    assert_int_equal(d.selected_slot, 0);
    assert_false(d.rolled_back);
    /* the flash cannot be read either: no image verifies */
    assert_int_equal(d.slot, -1);
    assert_int_equal(d.verify, OTK_IMG_READ_ERROR);
}

static void
bad_arguments(void **state)
{
    struct fx *f = *state;
    struct otk_boot_decision d;

    assert_int_equal(otk_boot_decide(NULL, &f->l, verify_esp32, f, &d, NULL), OTK_ERR_ARG);
    assert_int_equal(otk_boot_decide(&f->rf.ops, NULL, verify_esp32, f, &d, NULL), OTK_ERR_ARG);
    assert_int_equal(otk_boot_decide(&f->rf.ops, &f->l, NULL, f, &d, NULL), OTK_ERR_ARG);
    assert_int_equal(otk_boot_decide(&f->rf.ops, &f->l, verify_esp32, f, NULL, NULL), OTK_ERR_ARG);
    assert_int_equal(f->rf.mutations, 0);
}

static void
image_ok_accepts_gzip(void **state)
{
    (void)state;
    assert_true(otk_boot_image_ok(OTK_IMG_OK));
    assert_true(otk_boot_image_ok(OTK_IMG_GZIP));
    assert_false(otk_boot_image_ok(OTK_IMG_BAD_HASH));
    assert_false(otk_boot_image_ok(OTK_IMG_TRUNCATED));
}

/* otk_slots_entry_slot(): the slot a record names, (seq - 1) % 2, or -1 for an invalid one. */
static void
entry_slot(void **state)
{
    struct fx *f = *state;
    struct otk_slots_status st;

    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 1), OTK_OK); /* seq 2 in sector 0 */
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(otk_slots_entry_slot(&st, 0), 1);
    assert_int_equal(otk_slots_entry_slot(&st, 1), -1);                 /* erased */
    assert_int_equal(otk_slots_set_boot(&f->rf.ops, &f->l, 0), OTK_OK); /* seq 3 in sector 1 */
    assert_int_equal(otk_slots_read(&f->rf.ops, &f->l, &st), OTK_OK);
    assert_int_equal(otk_slots_entry_slot(&st, 1), 0);
    assert_int_equal(otk_slots_entry_slot(&st, 2), -1);
    assert_int_equal(otk_slots_entry_slot(NULL, 0), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(factory_state_boots_slot0, setup, teardown),
        cmocka_unit_test_setup_teardown(new_image_then_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_choice_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(nothing_bootable, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_otadata_starts_slot0, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),
        cmocka_unit_test(image_ok_accepts_gzip),
        cmocka_unit_test_setup_teardown(entry_slot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
