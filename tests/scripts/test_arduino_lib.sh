#!/usr/bin/env bash
# scripts/arduino-lib: the library's layout (library.properties, library.json, src/ flat,
# examples/BasicOTA), the zip holding exactly the directory's files, and the library compiled
# from the output directory - as the Arduino IDE compiles it, every .c/.cpp under src/ with only
# src/ on the include path - against otakit's stand-in of the ESP8266 core (tests/arduino),
# then updated over ArduinoOTA and the native protocol (two cases of e2e.test_arduino_lib).
# Needs OTAKIT (the otakit binary) in the environment for the uploads.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "test_arduino_lib: $*" >&2
  exit 1
}

bash "$root/scripts/arduino-lib" "$tmp/out"
lib=$tmp/out/OtaKit
version=$(sed -n 's/^#define OTK_VERSION "\([0-9.]*\)".*/\1/p' "$root/include/otakit/version.h")
for f in library.properties library.json README.md src/OtaKit.h src/OtaKit.cpp \
  src/otakit_esp8266.cpp src/otakit_esp32.cpp src/device.c src/updater.c src/otakit/device.h \
  src/otakit_idf.c examples/BasicOTA/BasicOTA.ino; do
  [ -f "$lib/$f" ] || fail "missing $f"
done
grep -qx "name=OtaKit" "$lib/library.properties" || fail "library.properties: no name=OtaKit"
grep -qx "version=$version" "$lib/library.properties" || fail "library.properties: not $version"
grep -qx "includes=OtaKit.h" "$lib/library.properties" || fail "library.properties: includes"
# Nothing but headers below src/ (the IDE would compile a .c there, and a flat src/ is what
# the includes expect); the uploader's halves of the core stay out.
[ -z "$(find "$lib/src" -mindepth 2 -type f ! -name '*.h')" ] || fail "non-header below src/"
for f in natclient.c proto_host.c mdns_wire.c; do
  [ ! -e "$lib/src/$f" ] || fail "$f shipped"
done
grep -q "OtaKit.begin()" "$lib/examples/BasicOTA/BasicOTA.ino" || fail "example without OtaKit"
python3 - "$tmp/out" "$version" <<'PY'
import json, os, sys, zipfile
out, version = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(out, "OtaKit", "library.json")))
assert meta["name"] == "OtaKit" and meta["version"] == version, meta
assert meta["frameworks"] == ["arduino"], meta
assert set(meta["platforms"]) == {"espressif8266", "espressif32"}, meta
files = {}
for d, _, names in os.walk(os.path.join(out, "OtaKit")):
    for n in names:
        p = os.path.join(d, n)
        files[os.path.relpath(p, out).replace(os.sep, "/")] = open(p, "rb").read()
with zipfile.ZipFile(os.path.join(out, "OtaKit.zip")) as z:
    assert z.testzip() is None
    zipped = {n: z.read(n) for n in z.namelist()}
assert set(zipped) == set(files), set(zipped) ^ set(files)
for n, data in files.items():
    assert zipped[n] == data, n
print("test_arduino_lib: %d files, the zip holds the same" % len(files))
PY

# The host build from the output directory. Left out: otakit_esp8266_crypto.cpp (the real
# core's ROM MD5 and BearSSL); the stand-in's crypto is mbedTLS instead.
std=$root/tests/arduino
flags=(-Wall -Wextra -Werror -DARDUINO=10819 -DARDUINO_ARCH_ESP8266 -DESP8266 -D_GNU_SOURCE
  -I "$std/standin" -I "$lib/src")
objs=()
for f in "$lib"/src/*.c "$lib"/src/*.cpp; do
  [ "$(basename "$f")" != otakit_esp8266_crypto.cpp ] || continue
  o=$tmp/obj-$(basename "$f").o
  case "$f" in
  *.c) gcc -std=c11 "${flags[@]}" -c "$f" -o "$o" ;;
  *.cpp) g++ -std=c++11 "${flags[@]}" -c "$f" -o "$o" ;;
  esac
  objs+=("$o")
done
g++ -std=c++11 "${flags[@]}" -I "$lib/examples/BasicOTA" -c "$std/sketch_basicota.cpp" -o "$tmp/sketch.o"
g++ -std=c++11 "${flags[@]}" -c "$std/host_main.cpp" -o "$tmp/main.o"
g++ -std=c++11 "${flags[@]}" -c "$std/standin/standin.cpp" -o "$tmp/standin.o"
gcc -std=c11 "${flags[@]}" -I "$root/src/port/mbedtls" -c "$std/standin_crypto.c" -o "$tmp/sc.o"
gcc -std=c11 "${flags[@]}" -I "$root/src/port/mbedtls" -c "$root/src/port/mbedtls/crypto_mbedtls.c" \
  -o "$tmp/mbed.o"
g++ -o "$tmp/sketch" "${objs[@]}" "$tmp/sketch.o" "$tmp/main.o" "$tmp/standin.o" "$tmp/sc.o" \
  "$tmp/mbed.o" -lmbedcrypto
echo "test_arduino_lib: BasicOTA built from $lib (${#objs[@]} library files)"

OTK_ARDUINO_HOST=$tmp/sketch PYTHONPATH=$root/tests/e2e python3 "$root/tests/e2e/test_arduino_lib.py" \
  test_otakit_upload_arduino_stages_and_restarts test_native_protocol_on_the_same_port
