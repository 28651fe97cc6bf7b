/* SPDX-License-Identifier: MIT */
/* The checks the rig helpers make (helper_ramflash.c, helper_rig.c): cmocka's assertions in
 * the unit tests; in the benchmarks, which are built without cmocka (OTK_RIG_STANDALONE, so a
 * build of otakit needs only what otakit needs), a failed check prints where and what, and
 * exits 1, as cmocka does outside a running test. */
#ifndef OTK_HELPER_CHECK_H
#define OTK_HELPER_CHECK_H

#ifdef OTK_RIG_STANDALONE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define rig_check_failed_(...)                                                                     \
    (fprintf(stderr, "%s:%d: ", __FILE__, __LINE__), fprintf(stderr, __VA_ARGS__),                 \
     fputc('\n', stderr), exit(1))
#define fail_msg(...)      rig_check_failed_(__VA_ARGS__)
#define assert_true(c)     ((c) ? (void)0 : (void)rig_check_failed_("check failed: %s", #c))
#define assert_non_null(p) assert_true((p) != NULL)
#define assert_int_equal(a, b)                                                                     \
    do {                                                                                           \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                        \
        if (a_ != b_)                                                                              \
            rig_check_failed_("%s == %s: %ju != %ju", #a, #b, a_, b_);                             \
    } while (0)
#else
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#endif

#endif
