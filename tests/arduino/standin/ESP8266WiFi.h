/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): WiFi, WiFiClient, WiFiServer on POSIX
 * TCP over 127.0.0.1. */
#ifndef OTK_STANDIN_WIFI_H
#define OTK_STANDIN_WIFI_H

#include "Arduino.h"

enum WiFiMode_t { WIFI_OFF = 0, WIFI_STA = 1 };
enum wl_status_t { WL_CONNECTED = 3, WL_DISCONNECTED = 6 };

class ESP8266WiFiClass
{
  public:
    bool
    mode(WiFiMode_t m)
    {
        (void)m;
        return true;
    }
    void
    begin(const char *ssid, const char *pass)
    {
        (void)ssid;
        (void)pass;
    }
    int
    waitForConnectResult()
    {
        return WL_CONNECTED;
    }
    IPAddress
    localIP()
    {
        return IPAddress(127, 0, 0, 1);
    }
};
extern ESP8266WiFiClass WiFi;

/* One TCP connection (a file descriptor shared by copies, as the core's WiFiClient shares its
 * context): blocking connect, non-blocking reads. */
class WiFiClient
{
  public:
    WiFiClient() : _fd(-1) {}
    explicit WiFiClient(int fd);
    int connect(IPAddress ip, uint16_t port);
    void setNoDelay(bool on);
    size_t write(const uint8_t *buf, size_t len);
    int read(uint8_t *buf, size_t len);
    int available();
    uint8_t connected();
    void stop();
    IPAddress remoteIP();
    uint16_t remotePort();
    explicit operator bool()
    {
        return _fd >= 0;
    }

  private:
    int _fd;
    bool _eof = false;
};

class WiFiServer
{
  public:
    explicit WiFiServer(uint16_t port) : _port(port), _fd(-1) {}
    void begin(uint16_t port);
    bool hasClient();
    WiFiClient accept();

  private:
    uint16_t _port;
    int _fd;
    int _pending = -1;
};

#endif
