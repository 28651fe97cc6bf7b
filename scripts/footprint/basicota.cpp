/* SPDX-License-Identifier: MIT */
/* The calls of the esp8266 core's BasicOTA example (a password, the four callbacks, begin,
 * handle; Wi-Fi set-up and serial prints left out, as both sides share them), for
 * scripts/footprint-anchor: built once against the core's ArduinoOTA and once against otakit's
 * OtaKit, the drop-in, so that both links start from the same sketch. */
#if defined(OTK_ANCHOR_OTAKIT)
#include <OtaKit.h>
#define OTA OtaKit
#else
#include <ArduinoOTA.h>
#define OTA ArduinoOTA
#endif

/* What the callbacks report, kept so the compiler keeps them. */
volatile int anchor_state;
volatile unsigned anchor_progress;

static void
anchor_setup()
{
    OTA.setHostname("gateway");
    OTA.setPassword("OTAPASSWORD");
    OTA.onStart([]() { anchor_state = OTA.getCommand() == U_FLASH ? 1 : 2; });
    OTA.onEnd([]() { anchor_state = 3; });
    OTA.onProgress([](unsigned int progress, unsigned int total) {
        anchor_progress = progress / (total / 100u + 1u);
    });
    OTA.onError([](ota_error_t error) { anchor_state = 10 + (int)error; });
    OTA.begin();
}

/* The link's entry: setup() once, loop() for ever. */
extern "C" void
anchor_main()
{
    anchor_setup();
    for (;;) {
        OTA.handle();
    }
}
