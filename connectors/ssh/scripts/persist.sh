# shellcheck disable=SC2154 # nl, tab, ifs, sshd and sshd_insts are set by inventory.sh
# handover inventory, second part: what starts again on its own (the
# persistence an outgoing provider can leave), read-only. Runs in the same
# shell as inventory.sh, after it (its helpers, $nl, $tab, $ifs, $sshd,
# $sshd_insts and $reinv are set there).
#
# Sections: "@@linger" (the accounts whose user manager runs without a
# login), "@@sshd-instance PID CONFIG" for every sshd listening (each
# followed by what sshd -T -f CONFIG says of the settings below), then
# "@@persist-archive" and one tar archive in two groups separated by
# /dev/null: the files that start something (units, at jobs, rc.local and
# init scripts, ~/.ssh/rc, sshd's configurations, PAM, ld.so.preload, VPN
# and tunnel clients' configurations, .forward files), then the programs
# those files call by an absolute path outside the system's own
# directories (login shells' startup files, the message of the day's
# scripts, network hooks and apt hooks among them). tar stores a link as a link (no -h) and opens no file
# through one, so that an account's link in its home reads as a link.
# "@@persist-end" ends the part.
sec linger
for f in /var/lib/systemd/linger/*; do [ -e "$f" ] && printf '%s\n' "${f##*/}"; done

# Every sshd instance is listed with its own configuration, read by sshd
# itself where it can (sshd -T -f): an instance started by hand or by a
# unit of the provider's with -f has settings the main one does not show.

IFS=$nl; set -f
for i in $sshd_insts; do
	pid=${i%%"$tab"*} c=${i#*"$tab"}
	printf '@@sshd-instance %s %s\n' "$pid" "$c"
	# The main one's settings are the inventory's own sshd -T, above.
	[ "$c" != /etc/ssh/sshd_config ] || continue
	"$sshd" -T -f "$c" 2>/dev/null | while IFS=$ifs read -r k v; do
		case $k in
		forcecommand|authorizedprincipalsfile|authorizedprincipalscommand|authorizedprincipalscommanduser|authorizedkeysfile|authorizedkeyscommand|trustedusercakeys|port|listenaddress|permitrootlogin|passwordauthentication|gatewayports|permittunnel)
			printf '%s %s\n' "$k" "$v" ;;
		esac
	done
done
set +f; IFS=$ifs

# The accounts' homes, once each (a home shared by accounts is read once).
homes=
while IFS=: read -r _ _ _ _ _ hd _; do
	case $hd in /?*) ;; *) continue ;; esac
	case "$nl$homes$nl" in *"$nl$hd$nl"*) continue ;; esac
	homes="$homes${homes:+$nl}$hd"
done < /etc/passwd

plist=
add() { for f in "$@"; do if [ -f "$f" ] || [ -L "$f" ]; then plist="$plist$f$nl"; fi; done; }
# Units that start something (services; timers, path and socket units
# that start them) and the drop-ins that change any unit (UNIT.d/*.conf:
# an ExecStartPost= or a new ExecStart= on the host's own sshd, say),
# where administrators put them, where a run put transient ones
# (systemd-run), and in each account's own unit directory.
for d in /etc/systemd/system /usr/local/lib/systemd/system /etc/systemd/user /run/systemd/system /run/systemd/transient; do
	add "$d"/*.service "$d"/*.timer "$d"/*.path "$d"/*.socket "$d"/*.d/*.conf
done
IFS=$nl; set -f
for hd in $homes; do
	set +f
	u=$hd/.config/systemd/user
	add "$hd/.ssh/rc" "$hd/.forward" "$u"/*.service "$u"/*.timer "$u"/*.path "$u"/*.socket "$u"/*.d/*.conf
	add "$hd/.profile" "$hd/.bash_profile" "$hd/.bash_login" "$hd/.bashrc" "$hd/.bash_logout" "$hd/.zshrc" "$hd/.zprofile"
	set -f
done
set +f
IFS=$ifs
add /var/spool/cron/atjobs/* /var/spool/at/[!.]* /etc/rc.local /etc/rc.d/rc.local /etc/init.d/* /etc/ssh/sshrc
add /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf
IFS=$nl
for i in $sshd_insts; do add "${i#*"$tab"}"; done
IFS=$ifs
add /etc/pam.d/* /etc/ld.so.preload
# What runs at every login shell, every SSH login's message of the day,
# every network interface coming up, every package installation.
add /etc/profile /etc/profile.d/*.sh /etc/bash.bashrc /etc/zsh/zshrc /etc/zsh/zprofile /etc/environment
add /etc/update-motd.d/* /etc/network/if-up.d/* /etc/network/if-pre-up.d/* /etc/NetworkManager/dispatcher.d/* /etc/apt/apt.conf.d/*
add /etc/wireguard/*.conf /etc/openvpn/*.conf /etc/openvpn/*.ovpn /etc/openvpn/client/*.conf /etc/openvpn/server/*.conf
add /var/lib/tailscale/tailscaled.state /etc/default/tailscaled /var/lib/zerotier-one/local.conf /var/lib/zerotier-one/networks.d/*.conf /var/lib/zerotier-one/moons.d/*.moon

# The programs these files call by an absolute path (ExecStart= and its
# kin in units, any absolute word elsewhere) in the directories where
# administrators and providers put their own: what a unit "calls" may
# name the provider when the unit does not. One awk for all the files.
called=
if [ -n "$plist" ]; then
	# shellcheck disable=SC2016 # awk's own $
	called=$(printf '%s' "$plist" | awk '
	{ f[++n] = $0 }
	END {
		for (i = 1; i <= n; i++) {
			if (f[i] ~ /^\/etc\/(pam\.d|ssh|wireguard|openvpn|default)\// || f[i] ~ /^\/var\/lib\//) continue
			while ((getline line < f[i]) > 0) {
				if (f[i] ~ /\.(service|timer)$/) {
					if (line !~ /^Exec[A-Za-z]*=/) continue
					sub(/^Exec[A-Za-z]*=[-@+!:]*/, "", line)
				}
				m = split(line, w, /[ \t;|&<>()"'"'"'`=]+/)
				for (j = 1; j <= m; j++)
					if (w[j] ~ /^\/(usr\/local|opt|srv|home|root|etc|var\/lib)\/[^*?]+$/ && !(w[j] in seen)) { seen[w[j]] = 1; print w[j] }
			}
			close(f[i])
		}
	}' 2>/dev/null)
fi

# Of those, the regular files (find -type f: not a link) small enough to
# be scripts or configurations, less what holds secrets: an agent's
# binary or a private key is not read.
if [ -n "$called" ]; then
	IFS=$nl; set -f
	# shellcheck disable=SC2086 # one path a line, no blanks (split there)
	called=$(find $called -maxdepth 0 -type f -size -65k ! -name '*shadow*' ! -name '*key' ! -name '*.pem' ! -name 'id_*' ! -name '*secret*' -printf '%p\0' 2>/dev/null | tr '\0' '\n')
	set +f; IFS=$ifs
fi
if have tar; then
	sec persist-archive
	{
		printf '%s' "$plist" | tr '\n' '\0'
		printf '%s\0' /dev/null
		[ -z "$called" ] || printf '%s\n' "$called" | tr '\n' '\0'
	} | tar -c -f - -b 1 -P --numeric-owner --no-recursion --null -T - 2>/dev/null
else
	IFS=$nl
	for f in $plist; do [ -L "$f" ] || dumpfile persist "$f"; done
	for f in $called; do dumpfile called "$f"; done
	IFS=$ifs
fi
sec persist-end
