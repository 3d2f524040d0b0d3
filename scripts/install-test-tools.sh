#!/usr/bin/env bash
# Installs the independent DICOM peers the tests talk to (DCMTK, GDCM, pydicom's
# test files) when they are missing and we may install them (root with apt-get).
# Otherwise it says loudly what is missing; the tests then skip with a message,
# and under SHARDPACS_STRICT=1 (.ci/run) they fail instead.
#
# Usage: scripts/install-test-tools.sh [--bench]   (--bench also installs Orthanc)
set -u
want_pkgs=()
command -v storescu >/dev/null 2>&1 || want_pkgs+=(dcmtk)
command -v gdcmscu >/dev/null 2>&1 || want_pkgs+=(libgdcm-tools)
[ -d /usr/lib/python3/dist-packages/pydicom/data/test_files ] || want_pkgs+=(python3-pydicom)
if [ "${1:-}" = "--bench" ]; then
  command -v Orthanc >/dev/null 2>&1 || want_pkgs+=(orthanc)
fi
[ ${#want_pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: installing ${want_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  if ! apt-get install -y -qq --no-install-recommends "${want_pkgs[@]}" >/dev/null; then
    echo "install-test-tools: !!! apt-get install ${want_pkgs[*]} failed; interop tests will skip (or fail under SHARDPACS_STRICT=1)" >&2
  fi
  # Orthanc's Debian package starts a system service on port 4242/8042; the
  # benchmarks run their own instance, so stop the packaged one if it started.
  if [[ " ${want_pkgs[*]} " == *" orthanc "* ]]; then
    (service orthanc stop || systemctl stop orthanc) >/dev/null 2>&1 || true
  fi
else
  echo "install-test-tools: !!! missing ${want_pkgs[*]} and not root: interop tests will SKIP (install them with apt-get)" >&2
fi
exit 0
