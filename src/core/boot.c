/* SPDX-License-Identifier: MIT */
/* The bootloader's decision at reset: otadata's choice (otk_slots_boot(), which applies the
 * rollback rules), then the image check, then the other slot. See include/otakit/boot.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/slots.h"

bool
otk_boot_image_ok(enum otk_image_result r)
{
    return r == OTK_IMG_OK || r == OTK_IMG_GZIP;
}

/* otadata's part: which slot, why, and the state its record holds after the boot's writes. */
static void
select_slot(const struct otk_flash_ops *f, const struct otk_layout *l, struct otk_boot_decision *d)
{
    struct otk_slots_status st;
    int slot = 0;
    bool rolled_back = false;

    d->otadata_rc = otk_slots_boot(f, l, &slot, &rolled_back);
    if (d->otadata_rc != OTK_OK) {
        slot = 0;
        rolled_back = false;
    }
    d->selected_slot = slot;
    d->rolled_back = rolled_back;
    d->state = OTK_OTA_UNDEFINED;
    d->entry = -1;
    /* Read again: the boot may have rewritten the winner (NEW -> PENDING_VERIFY, or ABORTED). */
    bool read_ok = otk_slots_read(f, l, &st) == OTK_OK;
    if (read_ok && st.active_entry >= 0 && st.boot_slot == slot) {
        d->state = st.boot_state;
        d->entry = st.active_entry;
    }
    if (d->otadata_rc != OTK_OK) {
        d->why = OTK_BOOT_OTADATA_ERROR;
    } else if (rolled_back) {
        d->why = OTK_BOOT_ROLLBACK;
    } else if (read_ok && st.active_entry < 0) {
        d->why = OTK_BOOT_FACTORY;
    } else {
        d->why = OTK_BOOT_RECORD;
    }
}

int
otk_boot_decide(const struct otk_flash_ops *f, const struct otk_layout *l,
                otk_boot_verify_fn verify, void *verify_user, struct otk_boot_decision *d,
                struct otk_image_info *info)
{
    struct otk_image_info selected_info;
    struct otk_image_info other_info;
    int other;

    if (f == NULL || l == NULL || verify == NULL || d == NULL) {
        return OTK_ERR_ARG;
    }
    memset(d, 0, sizeof *d);
    select_slot(f, l, d);
    memset(&selected_info, 0, sizeof selected_info);
    d->selected_verify = verify(verify_user, l->app_offset[d->selected_slot],
                                l->app_size[d->selected_slot], &selected_info);
    d->slot = d->selected_slot;
    d->verify = d->selected_verify;
    if (!otk_boot_image_ok(d->selected_verify)) {
        /* ESP-IDF's bootloader tries the remaining OTA slots before it gives up. */
        other = 1 - d->selected_slot;
        memset(&other_info, 0, sizeof other_info);
        enum otk_image_result r =
            verify(verify_user, l->app_offset[other], l->app_size[other], &other_info);
        if (otk_boot_image_ok(r)) {
            d->slot = other;
            d->verify = r;
            d->fallback = true;
            d->state = OTK_OTA_UNDEFINED; /* otadata names the other slot: nothing to confirm */
            d->entry = -1;
            selected_info = other_info;
        } else {
            d->slot = -1; /* state keeps the selected slot's record, for the report */
        }
    }
    if (info != NULL) {
        *info = selected_info;
    }
    return OTK_OK;
}

const char *
otk_boot_why_str(enum otk_boot_why why)
{
    switch (why) {
    case OTK_BOOT_RECORD:
        return "record";
    case OTK_BOOT_FACTORY:
        return "factory";
    case OTK_BOOT_ROLLBACK:
        return "rollback";
    case OTK_BOOT_OTADATA_ERROR:
        return "otadata-error";
    }
    return "unknown";
}
