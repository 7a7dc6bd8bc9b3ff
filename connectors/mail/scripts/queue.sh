# Reads, without changing anything, where a test message went: the Postfix
# log lines that name its Message-ID or its queue ids, and the queue
# (postqueue -j: one JSON object per queued message). $1 is the
# Message-ID. Records are "@@KIND NAME CONTENT", NAME and CONTENT in base64.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rec() {
	printf '@@%s %s ' "$1" "$(printf '%s' "$2" | base64 -w0)"
	base64 -w0
	echo
}
log=$(postconf -h maillog_file 2>/dev/null)
if [ -z "$log" ] || [ ! -f "$log" ]; then
	for f in /var/log/mail.log /var/log/maillog /var/log/syslog; do
		if [ -f "$f" ]; then
			log=$f
			break
		fi
	done
fi
if [ -n "$log" ] && [ -f "$log" ]; then
	ids=$(grep -F -- "message-id=<$1>" "$log" | sed -n 's/.*\]: \([0-9A-Za-z]*\): .*/\1/p' | sort -u)
	{
		grep -F -- "message-id=<$1>" "$log"
		for id in $ids; do
			grep -F -- " $id: " "$log"
		done
	} | rec log "$log"
else
	printf '' | rec nolog ""
fi
postqueue -j 2>&1 | rec queue ""
