/* SPDX-License-Identifier: MIT */
/* bench_devcost: what the device library costs per byte it receives, in CPU instructions.
 *
 * One upload of an image (1,300,000 bytes by default) through the device engine, in process, on
 * the unit tests' rig (tests/unit/helper_rig.h: RAM NOR flash, recording network, virtual
 * clock), into a slot that holds old data (so every erase happens, as on a device that has
 * updated before). bench/upload runs it under valgrind's callgrind with
 * --toggle-collect=otk_dev_on_tcp_data: every received byte is handled inside that call (the
 * MD5 of the stream, the copy into the sector buffer, erases and writes through the flash port,
 * the acks, and after the last byte the image check with its SHA-256), so the collected
 * instructions divided by the image size are the cost per byte, which callgrind repeats
 * exactly. bench/upload then splits them into hashing (mbedTLS MD5 / SHA-256), the flash port
 * (the RAM flash here; an SPI driver on a chip) and everything else.
 *
 * usage: bench_devcost [SIZE] [esp32|esp8266]; exit status 0 if the upload succeeded. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_rig.h"
#include "otakit/device.h"

int
main(int argc, char **argv)
{
    uint32_t size = 1300000u;
    enum otk_profile p = OTK_PROFILE_ESP32;
    struct rig_opts o;
    struct rig *r;
    bool ok;

    if (argc > 1)
        size = (uint32_t)strtoul(argv[1], NULL, 10);
    if (argc > 2 && !strcmp(argv[2], "esp8266"))
        p = OTK_PROFILE_ESP8266;
    if (size < 4096) {
        fprintf(stderr, "usage: bench_devcost [SIZE >= 4096] [esp32|esp8266]\n");
        return 2;
    }
    rig_opts_default(&o, p, OTK_AUTH_MD5, NULL);
    o.img_size = size;
    o.version = "2.0.0";
    r = rig_new_opts(&o);
    /* the target slot holds an older image: nothing reads as erased */
    memset(r->flash.mem + r->dev.cfg.layout.app_offset[1], 0x5A, r->dev.cfg.layout.app_size[1]);
    ok = rig_upload(r, OTK_CMD_FLASH, r->img, r->img_size, NULL);
    printf("devcost: %s, %u bytes received, upload %s, %lu erases, %lu writes\n",
           p == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32", (unsigned)size, ok ? "ok" : "FAILED",
           r->flash.erases_4k + r->flash.erases_64k + r->flash.erases_other, r->flash.writes);
    rig_free(r);
    return ok ? 0 : 1;
}
