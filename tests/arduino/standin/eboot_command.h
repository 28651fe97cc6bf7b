/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): the eboot command's shape (the
 * bootloader's RTC record: magic, action, args, crc); written to a file here. */
#ifndef OTK_STANDIN_EBOOT_H
#define OTK_STANDIN_EBOOT_H

#include <stdint.h>

enum action_t { ACTION_COPY_RAW = 0x00000001, ACTION_LOAD_APP = 0xffffffff };

struct eboot_command {
    uint32_t magic;
    enum action_t action;
    uint32_t args[29];
    uint32_t crc32;
};

void eboot_command_write(struct eboot_command *cmd);

#endif
