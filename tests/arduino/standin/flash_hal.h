/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): a 4 MB board with the 2 MB filesystem of
 * the eagle.flash.4m2m.ld layout, FS_start/FS_end as addresses in the mapped flash. */
#ifndef OTK_STANDIN_FLASH_HAL_H
#define OTK_STANDIN_FLASH_HAL_H

#define FS_start 0x40400000u
#define FS_end   0x405FA000u

#endif
