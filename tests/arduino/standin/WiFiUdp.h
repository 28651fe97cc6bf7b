/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): WiFiUDP on a POSIX UDP socket. */
#ifndef OTK_STANDIN_WIFIUDP_H
#define OTK_STANDIN_WIFIUDP_H

#include "Arduino.h"

class WiFiUDP
{
  public:
    uint8_t begin(uint16_t port);
    int parsePacket();
    int read(uint8_t *buf, size_t len);
    IPAddress
    remoteIP()
    {
        return _from;
    }
    uint16_t
    remotePort()
    {
        return _from_port;
    }
    int beginPacket(IPAddress ip, uint16_t port);
    size_t write(const uint8_t *buf, size_t len);
    int endPacket();

  private:
    int _fd = -1;
    uint8_t _in[1500];
    size_t _in_len = 0, _in_off = 0;
    IPAddress _from, _to;
    uint16_t _from_port = 0, _to_port = 0;
    uint8_t _out[1500];
    size_t _out_len = 0;
};

#endif
