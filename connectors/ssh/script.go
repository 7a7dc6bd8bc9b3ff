package ssh

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

//go:embed inventory.sh
var inventoryBase string

// inventoryScript is the whole inventory in one script, one round trip
// per host: the fixed part, then a check of every catalogue path pattern.
// Patterns are quoted so that only * and ? expand.
func inventoryScript(c *Catalog) string {
	var b strings.Builder
	b.WriteString(inventoryBase)
	b.WriteString("sec catalog-paths\n")
	var pats []string
	for _, a := range c.Agents {
		for _, p := range slices.Concat(a.Paths, a.Configs, a.Cron) {
			if !slices.Contains(pats, p) {
				pats = append(pats, p)
			}
		}
	}
	for i := 0; i < len(pats); i += 16 {
		chunk := pats[i:min(i+16, len(pats))]
		b.WriteString("for p in")
		for _, p := range chunk {
			b.WriteString(" " + shellGlob(p))
		}
		b.WriteString("; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then printf '%s\\n' \"$p\"; fi; done\n")
	}
	b.WriteString("sec catalog-end\n")
	return b.String()
}

// readFileScript prints a file's digest, mode and owner, and content, or
// "absent". $1 is the path.
const readFileScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
f=$1
if [ ! -e "$f" ]; then echo absent; exit 0; fi
[ -f "$f" ] || { echo "$f is not a regular file" >&2; exit 2; }
sha256sum < "$f" | cut -d' ' -f1
stat -c '%a %u %g' -- "$f"
base64 -w0 < "$f"; echo
`

// writeFileScript replaces a file atomically if it still has the content
// it was read with (compare and swap on its SHA-256, "absent" for a new
// file), keeping mode and owner: temp file in the same directory, checked
// (visudo for sudoers), renamed over. A file that would be left with
// nothing active is removed instead when $7 is "delete".
//
//	$1 path  $2 expected sha256|absent  $3 mode  $4 uid  $5 gid
//	$6 check: none|sudoers  $7 op: write|delete  $8 create dir: yes|no
const writeFileScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
f=$1 want=$2 mode=$3 uid=$4 gid=$5 check=$6 op=$7 mkdir=$8
if [ -e "$f" ]; then have=$(sha256sum < "$f" | cut -d' ' -f1); else have=absent; fi
if [ "$have" != "$want" ]; then echo "$f changed since it was read; not touched" >&2; exit 3; fi
if [ "$op" = delete ]; then rm -f -- "$f" || exit 4; exit 0; fi
d=$(dirname -- "$f")
if [ ! -d "$d" ]; then
	[ "$mkdir" = yes ] || { echo "$d does not exist" >&2; exit 4; }
	mkdir -p -- "$d" && chown "$uid:$gid" "$d" && chmod 700 "$d" || exit 4
fi
# A name with a dot: sudo skips it in sudoers.d while it is being checked.
tmp=$(mktemp "$d/.handover.XXXXXX") || exit 4
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp" || exit 4
chown "$uid:$gid" "$tmp" && chmod "$mode" "$tmp" || exit 4
if [ "$check" = sudoers ]; then
	visudo -c -q -f "$tmp" >&2 || { echo "visudo refused the edited $f; not replaced" >&2; exit 5; }
fi
command -v restorecon >/dev/null 2>&1 && [ -e "$f" ] && chcon --reference="$f" "$tmp" 2>/dev/null
mv -f -- "$tmp" "$f" || exit 4
trap - EXIT
case $f in /var/spool/cron/*) touch -- "$d" ;; esac
exit 0
`

// lockScript locks an account's password and expires the account: no
// password, key or cron login works any more, and it can be re-enabled.
const lockScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
usermod -L -e 1 "$1"
`

// chpasswdScript sets a hash read on stdin ("user:hash").
const chpasswdScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
chpasswd -e
`

// shadowHashScript prints an account's shadow hash.
const shadowHashScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
getent shadow "$1" | cut -d: -f2
`

// perlCryptScript compares a password with a hash of any scheme the host's
// libcrypt knows (yescrypt, ...), both read on stdin.
const perlCryptScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec perl -e 'my $p = <STDIN>; my $h = <STDIN>; chomp($p); chomp($h); my $c = crypt($p, $h); print((defined($c) && $c eq $h) ? "match\n" : "nomatch\n")'
`

// agentRemovalScript removes one agent: stop and disable its units, run
// the vendor uninstaller when present, purge its packages with the host's
// package manager, end leftover processes, remove its files and unit
// files. Every value is quoted; only catalogue * and ? expand.
func agentRemovalScript(a Agent, packages, units []string, paths []string) string {
	q := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = shellQuote(s)
		}
		return strings.Join(out, " ")
	}
	globs := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = shellGlob(s)
		}
		return strings.Join(out, " ")
	}
	var b strings.Builder
	b.WriteString(`export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
have() { command -v "$1" >/dev/null 2>&1; }
log() { printf '%s\n' "$*"; }
sysd=no
if [ -d /run/systemd/system ] && have systemctl; then
	case $(systemctl is-system-running 2>/dev/null) in running|degraded|starting|maintenance) sysd=yes ;; esac
fi
`)
	fmt.Fprintf(&b, "units=%s\n", shellQuote(strings.Join(units, " ")))
	b.WriteString(`for u in $units; do
	if [ $sysd = yes ]; then systemctl stop -- "$u" >/dev/null 2>&1 && log "stopped $u"; fi
	if have systemctl; then systemctl disable -- "$u" >/dev/null 2>&1 && log "disabled $u"; fi
done
`)
	if len(a.Removal.Uninstaller) > 0 {
		fmt.Fprintf(&b, "if [ -x %s ]; then timeout 300 %s </dev/null >/dev/null 2>&1; log \"ran the vendor uninstaller (exit $?)\"; fi\n", shellQuote(a.Removal.Uninstaller[0]), q(a.Removal.Uninstaller))
	}
	if a.Removal.Purge && len(packages) > 0 {
		fmt.Fprintf(&b, "pkgs=%s\n", shellQuote(strings.Join(packages, " ")))
		b.WriteString(`if have dpkg; then
	present=
	for p in $pkgs; do
		s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
		case $s in ""|un*|pn*) ;; *) present="$present $p" ;; esac
	done
	if [ -n "$present" ]; then dpkg --purge $present >&2 || { echo "dpkg --purge$present failed" >&2; exit 10; }; log "purged$present"; fi
elif have rpm; then
	present=
	for p in $pkgs; do rpm -q "$p" >/dev/null 2>&1 && present="$present $p"; done
	if [ -n "$present" ]; then
		if have dnf; then dnf -y -q remove $present >&2
		elif have yum; then yum -y -q remove $present >&2
		else rpm -e $present >&2; fi || { echo "removing$present failed" >&2; exit 10; }
		log "removed$present"
	fi
fi
`)
	}
	if len(a.Processes) > 0 {
		fmt.Fprintf(&b, "match() { case $1 in %s) return 0 ;; esac; return 1; }\n", strings.Join(mapStrings(a.Processes, shellGlob), "|"))
		b.WriteString(`leftovers() {
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		c=$(cat "$p/comm" 2>/dev/null) || continue
		e=$(readlink "$p/exe" 2>/dev/null); e=${e% (deleted)}; e=${e##*/}
		if match "$c" || { [ -n "$e" ] && match "$e"; }; then echo "$pid"; fi
	done
}
for sig in TERM KILL; do
	pids=$(leftovers)
	[ -n "$pids" ] || break
	kill -$sig $pids 2>/dev/null && log "sent $sig to$(printf ' %s' $pids)"
	sleep 1
done
`)
	}
	var unitPaths []string
	for _, u := range slices.Concat(a.Units, a.Timers) {
		for _, d := range []string{"/etc/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
			unitPaths = append(unitPaths, d+"/"+u)
		}
	}
	all := slices.Concat(paths, a.Removal.Files, unitPaths)
	fmt.Fprintf(&b, "for p in %s; do\n", globs(all))
	b.WriteString(`	[ -e "$p" ] || [ -L "$p" ] || continue
	case $p in /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*bin|/usr/lib|/usr/local|/usr/share|/var|/var/lib) continue ;; esac
	rm -rf -- "$p" && log "removed $p"
done
if [ $sysd = yes ]; then systemctl daemon-reload >/dev/null 2>&1; fi
exit 0
`)
	return b.String()
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
