/* SPDX-License-Identifier: MIT */
/* What the device engine (device.c) and the native protocol server (native.c) share inside the
 * core: the brute-force throttle, and the native side's part in the engine's clock, idle work
 * and "one update at a time". Internal: not part of the API. */
#ifndef OTK_CORE_DEVICE_PRIV_H
#define OTK_CORE_DEVICE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "otakit/device.h"

#if OTK_CFG_PROTO_NATIVE
/* The throttle of device.c: whether `from` waits out a delay, and a failure / success of it. */
bool otk__dev_throttled(struct otk_dev *d, const struct otk_addr *from, uint32_t now);
void otk__dev_throttle_failure(struct otk_dev *d, const struct otk_addr *from, uint32_t now);
void otk__dev_throttle_success(struct otk_dev *d, const struct otk_addr *from);

/* Whether the ArduinoOTA side holds the writer (an update from its "OK" to its reboot). */
bool otk__dev_arduino_busy(const struct otk_dev *d);

/* The native side, called by device.c's entry points (all do nothing without a native server):
 * its deadline, its timeouts, its erase-ahead, whether it holds the writer (an update between
 * its START and its reboot) and whether it is restarting the device. */
bool otk__nat_next_deadline(const struct otk_dev *d, uint32_t *at);
void otk__nat_tick(struct otk_dev *d, uint32_t now);
int otk__nat_idle(struct otk_dev *d);
bool otk__nat_holds_writer(const struct otk_dev *d);
bool otk__nat_rebooting(const struct otk_dev *d);
#endif

#endif
