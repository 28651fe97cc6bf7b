/* SPDX-License-Identifier: MIT */
/* The emulator's flash: factory format, NOR rules, operation counting, power cuts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flashsim.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

struct fx {
    char path[64];
    struct otk_flashsim fs;
    int logs;
};

static void
count_log(void *user, const char *msg)
{
    struct fx *f = user;
    (void)msg;
    f->logs++;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/otk-flashsim-%ld.flash", (long)getpid());
    unlink(f->path);
    bool created = false;
    char err[128];
    int rc = otk_flashsim_open(&f->fs, f->path, OTK_PROFILE_ESP32, OTK_FLASH_INSTANT, &created, err,
                               sizeof err);
    if (rc != OTK_OK || !created) {
        fprintf(stderr, "open: %s\n", err);
        free(f);
        return -1;
    }
    f->fs.log = count_log;
    f->fs.user = f;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    otk_flashsim_close(&f->fs);
    unlink(f->path);
    free(f);
    return 0;
}

static void
layout_of(struct fx *f, struct otk_layout *l)
{
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    uint8_t table[0xC00];
    struct otk_partition parts[OTK_PARTTABLE_MAX];
    assert_int_equal(ops->read(ops->user, OTK_PARTTABLE_OFFSET, table, sizeof table), OTK_OK);
    int n = otk_parttable_decode(otk_posix_crypto(), table, sizeof table, parts, OTK_PARTTABLE_MAX);
    assert_true(n >= 4);
    assert_int_equal(otk_layout_from_parts(parts, n, otk_flashsim_size(&f->fs), l), OTK_OK);
}

/* A new flash boots app0 with a valid factory image and erased otadata. */
static void
test_factory_state(void **state)
{
    struct fx *f = *state;
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    struct otk_layout l;
    layout_of(f, &l);
    assert_int_equal(otk_flashsim_size(&f->fs), otk_layout_default_flash_size(OTK_PROFILE_ESP32));
    union otk_hash_ctx h;
    struct otk_image_info info;
    assert_int_equal(otk_image_verify(ops, otk_posix_crypto(), l.app_offset[0], l.app_size[0],
                                      OTK_PROFILE_ESP32, &h, &info),
                     OTK_IMG_OK);
    assert_string_equal(info.project, "factory");
    assert_string_equal(info.version, "0.0.0");
    struct otk_slots_status st;
    assert_int_equal(otk_slots_read(ops, &l, &st), OTK_OK);
    assert_int_equal(st.active_entry, -1);
    assert_int_equal(st.boot_slot, 0);
    uint8_t b[16];
    assert_int_equal(ops->read(ops->user, l.app_offset[1], b, sizeof b), OTK_OK);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0xFF);
    assert_int_equal(otk_flashsim_op_count(&f->fs), 0); /* creation is not counted */
}

/* Writes only clear bits; setting one is refused, logged and changes nothing. */
static void
test_nor_rules(void **state)
{
    struct fx *f = *state;
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    const uint32_t a = 0x300000;
    uint8_t v = 0xF0, r = 0;
    assert_int_equal(ops->erase(ops->user, a, OTK_SECTOR_SIZE), OTK_OK);
    assert_int_equal(ops->write(ops->user, a, &v, 1), OTK_OK);
    v = 0x30; /* clears more bits: fine */
    assert_int_equal(ops->write(ops->user, a, &v, 1), OTK_OK);
    v = 0x0F; /* would set bits 0..3 */
    assert_int_equal(f->logs, 0);
    assert_int_equal(ops->write(ops->user, a, &v, 1), OTK_ERR_FLASH);
    assert_int_equal(f->logs, 1);
    assert_int_equal(ops->read(ops->user, a, &r, 1), OTK_OK);
    assert_int_equal(r, 0x30);
    /* Erase only in whole sectors, inside the chip. */
    assert_int_equal(ops->erase(ops->user, a + 1, OTK_SECTOR_SIZE), OTK_ERR_FLASH);
    assert_int_equal(ops->erase(ops->user, a, 100), OTK_ERR_FLASH);
    assert_int_equal(ops->erase(ops->user, otk_flashsim_size(&f->fs), OTK_SECTOR_SIZE),
                     OTK_ERR_FLASH);
    assert_int_equal(ops->read(ops->user, otk_flashsim_size(&f->fs) - 1, &r, 2), OTK_ERR_FLASH);
    assert_int_equal(ops->erase(ops->user, a, OTK_SECTOR_SIZE), OTK_OK);
    assert_int_equal(ops->read(ops->user, a, &r, 1), OTK_OK);
    assert_int_equal(r, 0xFF);
    /* Every erase and write counted, failed ones too; reads not. */
    assert_int_equal(otk_flashsim_op_count(&f->fs), 8);
}

/* The data survives closing and reopening (a reboot of the emulator). */
static void
test_persistence(void **state)
{
    struct fx *f = *state;
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    const uint8_t msg[] = "persist";
    assert_int_equal(ops->erase(ops->user, 0x310000, OTK_BLOCK_SIZE), OTK_OK);
    assert_int_equal(ops->write(ops->user, 0x310000, msg, sizeof msg), OTK_OK);
    otk_flashsim_close(&f->fs);
    bool created = true;
    assert_int_equal(
        otk_flashsim_open(&f->fs, f->path, OTK_PROFILE_ESP32, OTK_FLASH_INSTANT, &created, NULL, 0),
        OTK_OK);
    assert_false(created);
    ops = otk_flashsim_ops(&f->fs);
    uint8_t back[sizeof msg];
    assert_int_equal(ops->read(ops->user, 0x310000, back, sizeof back), OTK_OK);
    assert_memory_equal(back, msg, sizeof msg);
}

static void
note_cut(void *user, uint64_t op)
{
    *(uint64_t *)user = op;
}

/* --cut-at: the N-th op is applied halfway, the file is synced, the owner is told (and ends the
 * device in its own loop: the library does not end the process); the chip then has no power,
 * so every later op fails and changes nothing. */
static void
test_power_cut_erase(void **state)
{
    struct fx *f = *state;
    const uint32_t a = 0x320000;
    uint8_t zeros[512];
    memset(zeros, 0, sizeof zeros);
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    assert_int_equal(ops->erase(ops->user, a, 2 * OTK_SECTOR_SIZE), OTK_OK);
    assert_int_equal(ops->write(ops->user, a, zeros, sizeof zeros), OTK_OK);
    assert_int_equal(ops->write(ops->user, a + OTK_SECTOR_SIZE, zeros, sizeof zeros), OTK_OK);
    uint64_t cut = 0;
    f->fs.on_power_cut = note_cut;
    f->fs.user = &cut;
    otk_flashsim_set_cut(&f->fs, 5);
    assert_int_equal(ops->write(ops->user, a + 1024, zeros, 1), OTK_OK); /* 4 */
    assert_false(otk_flashsim_powered_off(&f->fs));
    /* 5: first 4 KB only, then the power is gone */
    assert_int_equal(ops->erase(ops->user, a, 2 * OTK_SECTOR_SIZE), OTK_ERR_FLASH);
    assert_int_equal(cut, 5);
    assert_true(otk_flashsim_powered_off(&f->fs));
    /* without power: fails, and changes nothing */
    assert_int_equal(ops->write(ops->user, a + 2048, zeros, 1), OTK_ERR_FLASH);
    assert_int_equal(ops->erase(ops->user, a + OTK_SECTOR_SIZE, OTK_SECTOR_SIZE), OTK_ERR_FLASH);
    assert_int_equal(otk_flashsim_op_count(&f->fs), 5);
    /* Read the file itself: that is what the next run of the emulator sees. */
    uint8_t first[512], second[512];
    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)a, SEEK_SET), 0);
    assert_int_equal(fread(first, 1, sizeof first, fp), sizeof first);
    assert_int_equal(fseek(fp, (long)(a + OTK_SECTOR_SIZE), SEEK_SET), 0);
    assert_int_equal(fread(second, 1, sizeof second, fp), sizeof second);
    fclose(fp);
    for (size_t i = 0; i < sizeof first; i++)
        assert_int_equal(first[i], 0xFF);             /* the first half of the range was erased */
    assert_memory_equal(second, zeros, sizeof zeros); /* the second half was not */
}

/* A cut write programs its first half only. */
static void
test_power_cut_write(void **state)
{
    struct fx *f = *state;
    const uint32_t a = 0x330000;
    uint8_t zeros[256];
    memset(zeros, 0, sizeof zeros);
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    assert_int_equal(ops->erase(ops->user, a, OTK_SECTOR_SIZE), OTK_OK);
    uint64_t base = otk_flashsim_op_count(&f->fs);
    otk_flashsim_set_cut(&f->fs, base + 1);
    assert_int_equal(ops->write(ops->user, a, zeros, sizeof zeros), OTK_ERR_FLASH);
    assert_true(otk_flashsim_powered_off(&f->fs));
    assert_int_equal(ops->read(ops->user, a, zeros, 1), OTK_ERR_FLASH); /* no power */
    /* the file is what the next run sees */
    uint8_t back[256];
    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)a, SEEK_SET), 0);
    assert_int_equal(fread(back, 1, sizeof back, fp), sizeof back);
    fclose(fp);
    for (size_t i = 0; i < 128; i++)
        assert_int_equal(back[i], 0x00);
    for (size_t i = 128; i < 256; i++)
        assert_int_equal(back[i], 0xFF);
}

/* Realistic timing charges the chip's times (checked through the accumulated total). */
static void
test_timing_profiles(void **state)
{
    (void)state;
    struct otk_flash_timing_profile t32 = otk_flashsim_timing_of(OTK_PROFILE_ESP32);
    struct otk_flash_timing_profile t66 = otk_flashsim_timing_of(OTK_PROFILE_ESP8266);
    assert_int_equal(t32.sector_erase_us, 45000);
    assert_int_equal(t32.block_erase_us, 150000);
    assert_int_equal(t32.page_program_us, 700);
    assert_true(t66.sector_erase_us > 0 && t66.block_erase_us > t66.sector_erase_us);
}

static void
test_realistic_costs(void **state)
{
    struct fx *f = *state;
    otk_flashsim_close(&f->fs);
    assert_int_equal(
        otk_flashsim_open(&f->fs, f->path, OTK_PROFILE_ESP32, OTK_FLASH_REALISTIC, NULL, NULL, 0),
        OTK_OK);
    const struct otk_flash_ops *ops = otk_flashsim_ops(&f->fs);
    uint8_t zeros[300];
    memset(zeros, 0, sizeof zeros);
    uint32_t t0 = otk_posix_now_ms();
    /* 64 KB aligned block + one sector = 150 + 45 ms; 300 bytes = 2 pages = 1.4 ms. */
    assert_int_equal(ops->erase(ops->user, 0x340000, OTK_BLOCK_SIZE + OTK_SECTOR_SIZE), OTK_OK);
    assert_int_equal(ops->write(ops->user, 0x340000, zeros, sizeof zeros), OTK_OK);
    uint32_t spent = otk_posix_now_ms() - t0;
    assert_int_equal(f->fs.sleep_us, 150000 + 45000 + 1400);
    assert_true(spent >= 196);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_factory_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nor_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_write, setup, teardown),
        cmocka_unit_test(test_timing_profiles),
        cmocka_unit_test_setup_teardown(test_realistic_costs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
