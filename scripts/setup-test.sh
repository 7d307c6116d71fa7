#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, skipping what is already there,
# then installs the npm dependencies (which bring Node 24). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: skopeo and podman as clients (runc: the OCI runtime
# the container-image test runs podman with, since crun 1.8 refuses hybrid cgroups), CNCF Distribution
# (docker-registry) as the peer registry; openssl and curl for the benchmark (SHA-256 reference, pull timing);
# kubectl for `kubectl kustomize deploy/`; redis-server for the catalogue cache; chromium for browser tests;
# postgresql for the PostgreSQL metadata store (tests run private clusters with its initdb and pg_ctl).
packages=(skopeo podman runc docker-registry openssl curl ca-certificates apache2-utils kubectl redis-server chromium fonts-dejavu-core postgresql)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  # policy-rc.d keeps the docker-registry package from starting its own service on port 5000.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages may start their own services (a registry on :5000, a PostgreSQL cluster on
# :5432); tests never use them.
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry postgresql 2>/dev/null || true; fi

echo "setup: npm ci"
npm ci --no-audit --no-fund
