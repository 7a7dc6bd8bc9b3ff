#!/usr/bin/env bash
# Installs the Debian packages the test environment and the benchmarks need.
# Idempotent and non-interactive; package scripts are kept from starting
# system daemons for the duration of the install.
set -euo pipefail

pkgs=(
  slapd ldap-utils
  openssh-server openssh-client
  dovecot-imapd dovecot-ldap dovecot-managesieved dovecot-sieve
  debootstrap iproute2 ca-certificates openssl
  samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba winbind krb5-user ldb-tools
  ansible sshpass time
  shellcheck
  nsd
  chromium
  prometheus
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root: install them or rerun as root" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
restore=""
if ! { [ -x "$policy" ] && grep -q 'exit 101' "$policy"; }; then
  [ -e "$policy" ] && { cp -a "$policy" "$policy.handover-save"; restore=move; } || restore=remove
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
fi
cleanup() {
  case "$restore" in
    move) mv -f "$policy.handover-save" "$policy" ;;
    remove) rm -f "$policy" ;;
  esac
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
echo "krb5-config krb5-config/default_realm string EXAMPLE.INVALID" | debconf-set-selections
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
