/* SPDX-License-Identifier: MIT */
/* otakit's stand-in (tests/arduino/standin/Arduino.h): MDNS records what it was asked. */
#ifndef OTK_STANDIN_MDNS_H
#define OTK_STANDIN_MDNS_H

#include "Arduino.h"

class MDNSResponder
{
  public:
    bool begin(const char *hostname);
    void enableArduino(uint16_t port, bool auth = false);
    void
    update()
    {
        updates++;
    }
    unsigned long updates = 0;
};
extern MDNSResponder MDNS;

#endif
