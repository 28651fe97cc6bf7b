/* SPDX-License-Identifier: MIT */
/* include/otakit/config.h: a firmware's file named by OTK_CONFIG_FILE (otk_test_config.h) changes
 * the options it names, in the headers and in the core code built with it (lock.c is compiled
 * into this program with the same definition), and the rest keep their defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/lock.h"
#include "otakit/port.h"

static void
options_named_in_the_file_change(void **state)
{
    (void)state;
    assert_int_equal(OTK_CFG_LOCK_PARTICIPANTS, 3);
    assert_int_equal(OTK_CFG_PROTO_NATIVE, 0);
    /* follows the native protocol unless the file names it */
    assert_int_equal(OTK_CFG_NOISE, 0);
    assert_int_equal(OTK_CFG_NATIVE_MD5_AUTH, 0);
}

static void
options_not_named_keep_their_defaults(void **state)
{
    (void)state;
    assert_int_equal(OTK_CFG_PROTO_ARDUINO, 1);
    assert_int_equal(OTK_CFG_HASH_CTX_SIZE, 224);
    assert_true(sizeof(union otk_hash_ctx) >= 224);
}

/* The core built with the file holds three participants, not the default eight. */
static void
core_code_uses_the_override(void **state)
{
    (void)state;
    struct otk_lock l;
    struct otk_lock_participant p[4] = {{.name = "a"}, {.name = "b"}, {.name = "c"}, {.name = "d"}};
    otk_lock_init(&l, NULL);
    assert_int_equal(sizeof l.parts / sizeof l.parts[0], 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(otk_lock_register(&l, &p[i]), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &p[3]), OTK_ERR_NOSPACE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_named_in_the_file_change),
        cmocka_unit_test(options_not_named_keep_their_defaults),
        cmocka_unit_test(core_code_uses_the_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
