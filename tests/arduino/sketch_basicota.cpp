/* SPDX-License-Identifier: MIT */
/* The library's example sketch as the Arduino IDE compiles an .ino: Arduino.h first. */
#include <Arduino.h>

#include "BasicOTA.ino"
