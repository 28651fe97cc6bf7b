/* SPDX-License-Identifier: MIT */
/* Between the upload engine's two halves (internal): upload.c (ArduinoOTA, the attempts and
 * retries, events) and upload_native.c (ESPHome's native protocol). */
#ifndef OTK_UPLOAD_INT_H
#define OTK_UPLOAD_INT_H

#include "otakit/upload.h"

/* upload.c */
void otk__up_finish(struct otk_upload *u, uint32_t now, enum otk_up_cause cause);
void otk__up_set_state(struct otk_upload *u, enum otk_up_state s);
void otk__up_emit(struct otk_upload *u, enum otk_up_event ev, const char *text);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void
otk__up_dlog(struct otk_upload *u, const char *fmt, ...);
/* the ArduinoOTA path from its listener on (--protocol auto found no native port) */
int otk__up_begin_arduino(struct otk_upload *u, uint32_t now);

/* a device's error text (the Updater's words): its cause, chips named where they disagree */
void otk__up_device_error(struct otk_upload *u, uint32_t now, const char *text);

/* upload_http.c: the HTTP doors (--protocol elegantota, web) */
void otk__uph_start(struct otk_upload *u, uint32_t now);
void otk__uph_begin_attempt(struct otk_upload *u, uint32_t now);
bool otk__uph_owns(const struct otk_upload *u); /* an HTTP attempt is under way */
size_t otk__uph_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap);
int32_t otk__uph_next_ms(const struct otk_upload *u, uint32_t now);
void otk__uph_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now);
void otk__uph_close_attempt(struct otk_upload *u);
void otk__uph_free(struct otk_upload *u);

/* upload_native.c */
/* --protocol esphome or auto, once the target resolved: the probe (auto) or the first attempt */
void otk__upn_start(struct otk_upload *u, uint32_t now);
/* what a .local device's mDNS records say: the protocol for auto, ESPHome's OTA port */
struct otk_mdns_device;
void otk__upn_mdns(struct otk_upload *u, const struct otk_mdns_device *dev);
/* another attempt (a retry) */
void otk__upn_begin_attempt(struct otk_upload *u, uint32_t now);
bool otk__upn_owns(const struct otk_upload *u); /* the state is the native path's */
size_t otk__upn_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap);
int32_t otk__upn_next_ms(const struct otk_upload *u, uint32_t now);
void otk__upn_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now);
void otk__upn_close_attempt(struct otk_upload *u);
uint32_t otk__upn_attempt_wire(const struct otk_upload *u); /* payload bytes this attempt sent */
void otk__upn_free(struct otk_upload *u);

/* upload_detect.c: --wait and auto's HTTP probe */
/* the cause of an ended look says the device has not shown itself (and --wait is on) */
bool otk__upw_asleep_cause(const struct otk_upload *u, enum otk_up_cause cause);
/* the device showed itself (how: for the AWAKE event); once */
void otk__up_woke(struct otk_upload *u, uint32_t now, const char *how);
/* auto decided: u->detected and the DETECTED event; once */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void
otk__up_detected(struct otk_upload *u, const char *fmt, ...);
/* auto, after the native magic went unanswered: GET /update and /, then ArduinoOTA */
void otk__upd_http_start(struct otk_upload *u, uint32_t now);
bool otk__upd_http_running(const struct otk_upload *u);
size_t otk__upd_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap);
int32_t otk__upd_next_ms(const struct otk_upload *u, uint32_t now);
void otk__upd_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now);
void otk__upd_close(struct otk_upload *u);
void otk__upd_free(struct otk_upload *u);

#endif
