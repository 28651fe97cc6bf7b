/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): the Updater's command numbers only. */
#ifndef OTK_STANDIN_UPDATER_H
#define OTK_STANDIN_UPDATER_H

#define U_FLASH 0
#define U_FS    100

#endif
