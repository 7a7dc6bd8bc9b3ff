#!/usr/bin/env bash
# The reference the Vault measure compares handover with: what a user
# would write with curl to list every token and look each one up.
#
#   vault-reference.sh CA_CERT HEADER_FILE ADDRESS WORK_DIR CONCURRENCY
#
# HEADER_FILE holds "X-Vault-Token: ..." (mode 0600): the token is never on
# a command line. One curl lists the accessors; one curl process then looks
# every accessor up, CONCURRENCY transfers at a time (curl --parallel).
set -euo pipefail
ca=$1 header=$2 addr=$3 work=$4 concurrency=$5

curl -sS --fail --cacert "$ca" -H @"$header" -X LIST "$addr/v1/auth/token/accessors" |
	jq -r '.data.keys[]' >"$work/accessors"
awk -v addr="$addr" -v ca="$ca" -v hdr="$header" '
	NR > 1 { print "next" }
	{
		print "url = " addr "/v1/auth/token/lookup-accessor"
		print "cacert = " ca
		print "header = @" hdr
		print "data = {\"accessor\":\"" $1 "\"}"
		print "silent"
		print "show-error"
		print "fail"
	}' "$work/accessors" >"$work/curl.cfg"
bytes=$(curl --parallel --parallel-max "$concurrency" -K "$work/curl.cfg" | wc -c)
echo "$(wc -l <"$work/accessors") accessors looked up, $bytes bytes of answers"
