/* SPDX-License-Identifier: MIT */
/* OtaKitClass: ArduinoOTA's API on top of otakit's engine. The settings and callbacks live
 * here, the same on both cores; the port (otakit_arduino.h) does the rest. */
#include <stdio.h>
#include <string.h>

#include "OtaKit.h"
#include "otakit/device.h"
#include "otakit_arduino.h"

#if !defined(NO_GLOBAL_INSTANCES) && !defined(NO_GLOBAL_OTAKIT)
OtaKitClass OtaKit;
#endif

static void
copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ArduinoOTA takes the port, host name and password only once and only before begin(). */
void
OtaKitClass::setPort(uint16_t port)
{
    if (!_initialized && !_port && port)
        _port = port;
}

void
OtaKitClass::setHostname(const char *hostname)
{
    if (!_initialized && !_hostname[0] && hostname)
        copy_text(_hostname, sizeof _hostname, hostname);
}

const char *
OtaKitClass::getHostname() const
{
    return _hostname;
}

void
OtaKitClass::setPassword(const char *password)
{
    if (!_initialized && !_password[0] && !_passwordHash[0] && password)
        copy_text(_password, sizeof _password, password);
}

void
OtaKitClass::setPasswordHash(const char *md5hex)
{
    if (!_initialized && !_password[0] && !_passwordHash[0] && md5hex)
        copy_text(_passwordHash, sizeof _passwordHash, md5hex);
}

void
OtaKitClass::setRebootOnSuccess(bool reboot)
{
    _rebootOnSuccess = reboot;
}

void
OtaKitClass::setMdnsEnabled(bool enabled)
{
    _mdns = enabled;
}

void
OtaKitClass::setProtocols(int protocols)
{
    if (!_initialized && (protocols & OTAKIT_BOTH))
        _protocols = protocols & OTAKIT_BOTH;
}

void
OtaKitClass::onStart(THandlerFunction fn)
{
    _start = fn;
}

void
OtaKitClass::onEnd(THandlerFunction fn)
{
    _end = fn;
}

void
OtaKitClass::onError(THandlerFunction_Error fn)
{
    _error = fn;
}

void
OtaKitClass::onProgress(THandlerFunction_Progress fn)
{
    _progress = fn;
}

void
OtaKitClass::begin(bool useMDNS)
{
    struct otk_arduino_settings s;

    if (_initialized)
        return;
    if (!useMDNS)
        _mdns = false;
    if (!_hostname[0])
        otk_arduino_default_hostname(_hostname, sizeof _hostname);
    if (!_port)
        _port = otk_arduino_default_port();
    s.port = _port;
    s.hostname = _hostname;
    s.password = _password;
    s.password_hash = _passwordHash;
    s.reboot_on_success = _rebootOnSuccess;
    s.mdns = _mdns;
    s.protocols = _protocols;
    _initialized = otk_arduino_begin(this, &s);
}

void
OtaKitClass::handle()
{
    if (_initialized)
        otk_arduino_handle();
}

int
OtaKitClass::getCommand() const
{
    return _cmd;
}

bool
OtaKitClass::addLockParticipant(struct otk_lock_participant *p)
{
    return otk_arduino_register(p);
}

bool
OtaKitClass::confirm()
{
    return otk_arduino_confirm();
}

bool
OtaKitClass::updateRunning() const
{
    return _initialized && otk_arduino_running();
}

const char *
OtaKitClass::lastError() const
{
    return _lastError;
}

/* The engine's events as ArduinoOTA reports them: onStart once the update is accepted (the
 * command is known by then), onProgress per write, onEnd after the image was accepted, onError
 * with ArduinoOTA's ota_error_t (an authentication failure included). */
void
OtaKitClass::_event(int type, uint32_t cmd, uint32_t bytes, uint32_t total, int ota_error,
                    const char *text)
{
    switch (type) {
    case OTK_EV_START:
        _cmd = cmd == OTK_CMD_FS ? U_FS : U_FLASH;
        _lastError[0] = '\0';
        if (_start)
            _start();
        break;
    case OTK_EV_PROGRESS:
        if (_progress)
            _progress(bytes, total);
        break;
    case OTK_EV_END:
        if (_end)
            _end();
        break;
    case OTK_EV_ERROR:
        copy_text(_lastError, sizeof _lastError, text);
        if (_error)
            _error((ota_error_t)ota_error);
        break;
    default:
        break;
    }
}
