// OtaKit's BasicOTA: an ArduinoOTA sketch with `ArduinoOTA` replaced by `OtaKit` (and the
// include). espota.py, the Arduino IDE's network port, PlatformIO's `upload_protocol = espota`
// and `otakit upload` update it as before; `esphome upload` / `otakit upload --protocol esphome`
// too (ESPHome's native protocol, on the same port number over TCP).
#if defined(ESP8266)
#include <ESP8266WiFi.h>
#include <ESP8266mDNS.h>
#else
#include <WiFi.h>
#endif
#include <WiFiUdp.h>
#include <OtaKit.h>

#ifndef STASSID
#define STASSID "your-ssid"
#define STAPSK "your-password"
#endif

void setup() {
  Serial.begin(115200);
  Serial.println("Booting");
  WiFi.mode(WIFI_STA);
  WiFi.begin(STASSID, STAPSK);
  while (WiFi.waitForConnectResult() != WL_CONNECTED) {
    Serial.println("Connection Failed! Rebooting...");
    delay(5000);
    ESP.restart();
  }

  // The port: 8266 on the ESP8266, 3232 on the ESP32 (as ArduinoOTA)
  // OtaKit.setPort(8266);
  // The mDNS host name: esp8266-<chip id> by default
  // OtaKit.setHostname("myesp8266");
  // No password by default
  // OtaKit.setPassword("admin");
  // or its MD5, as ArduinoOTA takes it (then only ArduinoOTA is served: ESPHome's protocol
  // needs the password itself)
  // OtaKit.setPasswordHash("21232f297a57a5a743894a0e4a801fc3");

  OtaKit.onStart([]() {
    String type;
    if (OtaKit.getCommand() == U_FLASH) {
      type = "sketch";
    } else {  // U_FS: unmount the filesystem here
      type = "filesystem";
    }
    Serial.println("Start updating " + type);
  });
  OtaKit.onEnd([]() {
    Serial.println("\nEnd");
  });
  OtaKit.onProgress([](unsigned int progress, unsigned int total) {
    Serial.printf("Progress: %u%%\r", (progress / (total / 100)));
  });
  OtaKit.onError([](ota_error_t error) {
    Serial.printf("Error[%u]: ", error);
    if (error == OTA_AUTH_ERROR) {
      Serial.println("Auth Failed");
    } else if (error == OTA_BEGIN_ERROR) {
      Serial.println("Begin Failed");
    } else if (error == OTA_CONNECT_ERROR) {
      Serial.println("Connect Failed");
    } else if (error == OTA_RECEIVE_ERROR) {
      Serial.println("Receive Failed");
    } else if (error == OTA_END_ERROR) {
      Serial.println("End Failed");
    }
    Serial.printf("  (%s)\n", OtaKit.lastError());  // otakit: the reason in words
  });
  OtaKit.begin();
  Serial.println("Ready");
  Serial.print("IP address: ");
  Serial.println(WiFi.localIP());
  // otakit: the sketch reached this point, so it works (ESP32: no rollback from now on)
  OtaKit.confirm();
}

void loop() {
  OtaKit.handle();
}
