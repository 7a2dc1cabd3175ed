#!/bin/sh
# Install the system tools the tests use as independent judges (tshark, dig, nmap, ...), where we can:
# as root with apt-get. Otherwise say what is missing; the tests that need a tool skip naming it.
# Idempotent: when every tool is present it does nothing.
set -u
# command -> Debian package
TOOLS="tshark:tshark tcpdump:tcpdump nmap:nmap fping:fping dig:dnsutils dnsperf:dnsperf dnsmasq:dnsmasq-base
ip:iproute2 nft:nftables iptables:iptables ping:iputils-ping traceroute:traceroute nc:netcat-openbsd
unshare:util-linux sysctl:procps"
missing=""
for pair in $TOOLS; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system tools for the tests:$missing"
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || echo "apt-get could not install:$missing (the tests that need them will be skipped)"
else
  echo "not root or no apt-get: cannot install$missing; the tests that need them will be skipped"
fi
exit 0
