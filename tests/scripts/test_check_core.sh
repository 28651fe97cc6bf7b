#!/usr/bin/env bash
# scripts/check-core must catch a core file that calls into a port: run it on a copy of
# src/core with one extra file calling the POSIX port's clock (otk_posix_now_ms); it must fail
# and name the symbol. Then it must pass on the real core, so the failure is the extra file's.
# usage: test_check_core.sh REPO_DIR
set -uo pipefail
repo=${1:?usage: test_check_core.sh REPO_DIR}
tmp=$(mktemp -d)
# the symbol check is what this test is about: one firmware configuration is enough (the full
# footprint table runs in scripts/test itself)
export OTK_CHECK_CORE_CONFIGS=arduino
trap 'rm -rf "$tmp"' EXIT

cp -r "$repo/src/core" "$tmp/core"
cat > "$tmp/core/leak.c" <<'C'
/* A core module that reads the clock itself instead of taking the time as an argument. */
#include <stdint.h>

uint32_t otk_posix_now_ms(void);
uint32_t otk_leak_elapsed(uint32_t since_ms);

uint32_t
otk_leak_elapsed(uint32_t since_ms)
{
    return otk_posix_now_ms() - since_ms;
}
C

bash "$repo/scripts/check-core" "$tmp/out-leak" "$tmp/core" >"$tmp/leak.log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
  echo "FAIL: check-core passed a core that calls otk_posix_now_ms()"
  cat "$tmp/leak.log"
  exit 1
fi
for arch in host xtensa rv32imc; do
  if ! grep -q "check-core: $arch .*leak.c calls outside the core: otk_posix_now_ms" "$tmp/leak.log"; then
    echo "FAIL: check-core (exit $rc) did not name otk_posix_now_ms in leak.c for $arch:"
    cat "$tmp/leak.log"
    exit 1
  fi
done
if grep "calls outside the core" "$tmp/leak.log" | grep -v "leak.c"; then
  echo "FAIL: check-core blamed a real core file"
  exit 1
fi
echo "ok: on a core calling the port, check-core exits $rc naming otk_posix_now_ms (3 targets)"

if ! bash "$repo/scripts/check-core" "$tmp/out-real" >"$tmp/real.log" 2>&1; then
  echo "FAIL: check-core fails on the real core:"
  cat "$tmp/real.log"
  exit 1
fi
echo "ok: check-core passes on the real core"
