/* SPDX-License-Identifier: MIT */
/* Runs an Arduino sketch (BasicOTA.ino, compiled with the stand-in core) as a process: setup(),
 * then loop() for ever. The test sets what the sketch leaves at its defaults through OtaKit's
 * own calls before setup() (ArduinoOTA's setters keep the first value they get):
 *   OTK_PORT, OTK_PASSWORD, OTK_PASSWORD_HASH, OTK_NO_REBOOT=1, OTK_PROTOCOLS=arduino|native,
 *   OTK_FLASH (the flash file, kept across restarts). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "Arduino.h"
#include "OtaKit.h"

void setup(void);
void loop(void);

static void
participant_pause(void *user)
{
    (void)user;
    puts("sketch: pause");
    fflush(stdout);
}

static void
participant_resume(void *user)
{
    (void)user;
    puts("sketch: resume");
    fflush(stdout);
}

static struct otk_lock_participant task = {"task", participant_pause, participant_resume, NULL,
                                           false};

int
main(void)
{
    const char *v;

    if ((v = getenv("OTK_PORT")) != NULL)
        OtaKit.setPort((uint16_t)atoi(v));
    if ((v = getenv("OTK_PASSWORD")) != NULL)
        OtaKit.setPassword(v);
    if ((v = getenv("OTK_PASSWORD_HASH")) != NULL)
        OtaKit.setPasswordHash(v);
    if ((v = getenv("OTK_NO_REBOOT")) != NULL && strcmp(v, "1") == 0)
        OtaKit.setRebootOnSuccess(false);
    if ((v = getenv("OTK_PROTOCOLS")) != NULL)
        OtaKit.setProtocols(strcmp(v, "native") == 0 ? OTAKIT_NATIVE : OTAKIT_ARDUINO_OTA);
    setup();
    if (!OtaKit.addLockParticipant(&task))
        puts("sketch: no lock participant");
    for (;;) {
        loop();
        if (!OtaKit.updateRunning())
            usleep(1000); /* as the core's emulation: about 1000 loops a second when idle */
    }
}
