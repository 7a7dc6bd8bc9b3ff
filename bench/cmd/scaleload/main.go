// Command scaleload measures handover on the light fleet (testenv
// component lightfleet, docs/scale.md): the wall time and peak memory of a
// dry inventory or of a run over its first N hosts, under a memory limit
// (GOMEMLIMIT and a memory cgroup), optionally as K shards one after the
// other, merged at the end.
//
//	scaleload -handover bin/handover -hosts 1000 -mode inventory -limit 256 -out DIR
//	scaleload -handover bin/handover -hosts 100 -mode run -limit 256 -out DIR
//	scaleload -handover bin/handover -hosts 1000 -mode run -shards 10 -out DIR
//
// A run rotates root's password on every host into the playbook's file
// store, then `handover check` proves every stored credential logs in
// (nothing lost). It prints one JSON record per command and exits 1 when
// a command failed or was killed for memory.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/testenv"
)

// Record is one measured command.
type Record struct {
	Label   string  `json:"label"`
	Hosts   int     `json:"hosts"`
	Wall    float64 `json:"wall_s"`
	CPU     float64 `json:"cpu_s"`
	PeakRSS float64 `json:"peak_rss_mb"`
	// CgroupPeak is the memory cgroup's peak (the process, its page
	// cache included); 0 without a cgroup.
	CgroupPeak float64 `json:"cgroup_peak_mb"`
	LimitMB    int     `json:"limit_mb"`
	OOMKills   int     `json:"oom_kills"`
	Exit       int     `json:"exit"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scaleload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scaleload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("handover", "bin/handover", "the handover binary")
	hosts := fs.Int("hosts", 100, "light hosts, from the first")
	mode := fs.String("mode", "inventory", "inventory or run")
	limit := fs.Int("limit", 256, "memory limit in MB (GOMEMLIMIT at 80 % of it, and a memory cgroup); 0: none")
	parallel := fs.Int("parallel", 16, "hosts at once")
	shards := fs.Int("shards", 1, "run as this many --limit shards, one after the other, then merge")
	out := fs.String("out", "", "working directory (new)")
	mergeLimit := fs.Int("merge-limit", 1536, "memory limit in MB of report merge and of verify of the merged report (they hold every shard's report)")
	bound := fs.String("bound", "", "fail when a command's peak RSS exceeds `BASE+PERHOST` MB (e.g. 40+0.5: 40 MB and 0.5 MB a host)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	env, err := testenv.Load()
	if err != nil {
		return err
	}
	lf := env.LightFleet
	if lf == nil || len(lf.Hosts) < *hosts {
		return fmt.Errorf("the light fleet has fewer than %d hosts: HANDOVER_TESTENV_DIR=%s bin/testenv up -only lightfleet -light-hosts %d", *hosts, env.Dir, *hosts)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	pb, err := writePlaybook(*out, lf, *hosts, *parallel)
	if err != nil {
		return err
	}
	var base, perHost float64
	if *bound != "" {
		b, p, ok := strings.Cut(*bound, "+")
		var e1, e2 error
		base, e1 = strconv.ParseFloat(b, 64)
		perHost, e2 = strconv.ParseFloat(p, 64)
		if !ok || e1 != nil || e2 != nil {
			return fmt.Errorf("-bound %q: want BASE+PERHOST, in MB", *bound)
		}
	}
	var recs []Record
	failed := false
	measureWith := func(limit int, label string, n int, argv ...string) error {
		r, err := measured(label, n, limit, *bin, argv, filepath.Join(*out, label+".log"))
		if err != nil {
			return err
		}
		recs = append(recs, r)
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
		if r.Exit != 0 || r.OOMKills > 0 {
			failed = true
		}
		if max := base + perHost*float64(n); *bound != "" && r.PeakRSS > max {
			fmt.Fprintf(stderr, "scaleload: %s: peak RSS %.1f MB is above the bound %s MB a host = %.1f MB\n", label, r.PeakRSS, *bound, max)
			failed = true
		}
		return nil
	}
	measure := func(label string, n int, argv ...string) error { return measureWith(*limit, label, n, argv...) }
	switch *mode {
	case "inventory":
		err = measure(fmt.Sprintf("inventory-%d", *hosts), *hosts, "inventory", "--parallel", strconv.Itoa(*parallel), "-o", filepath.Join(*out, "dossier.json"), pb)
	case "run":
		per := (*hosts + *shards - 1) / *shards
		var reports []string
		for k := 0; k < *shards && err == nil; k++ {
			lo, hi := k*per+1, min((k+1)*per, *hosts)
			argv := []string{"run", "--yes", "--parallel", strconv.Itoa(*parallel)}
			label := fmt.Sprintf("run-%d", *hosts)
			if *shards > 1 {
				state := filepath.Join(*out, fmt.Sprintf("shard-%d", k))
				argv = append(argv, "--limit", "~^light-("+rangeRE(lo, hi)+")$", "--state-dir", state)
				label = fmt.Sprintf("run-%d-shard-%d-of-%d", *hosts, k+1, *shards)
				reports = append(reports, state)
			}
			err = measure(label, hi-lo+1, append(argv, pb)...)
		}
		if err == nil && *shards > 1 && !failed {
			var dirs []string
			for _, s := range reports {
				m, _ := filepath.Glob(filepath.Join(s, "reports", "*"))
				dirs = append(dirs, m...)
			}
			err = measureWith(*mergeLimit, fmt.Sprintf("merge-%d-of-%d", *hosts, *shards), *hosts, append([]string{"report", "merge", "--playbook", pb, "-o", filepath.Join(*out, "merged")}, dirs...)...)
			if err == nil {
				err = measureWith(*mergeLimit, fmt.Sprintf("verify-merged-%d", *hosts), *hosts, "verify", "--playbook", pb, filepath.Join(*out, "merged", "report.json"))
			}
		}
		if err == nil && *shards == 1 && !failed {
			// Nothing lost: every credential the store holds logs in.
			err = measure(fmt.Sprintf("check-%d", *hosts), *hosts, "check", "--no-baseline", "--parallel", strconv.Itoa(*parallel), pb)
		}
	default:
		return fmt.Errorf("-mode must be inventory or run")
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(recs, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "records.json"), b, 0o644); err != nil {
		return err
	}
	if failed {
		return errors.New("a command failed or was killed for memory: see the logs in " + *out)
	}
	return nil
}

// rangeRE is a regular expression of the host numbers lo..hi (4 digits).
func rangeRE(lo, hi int) string {
	var alts []string
	for i := lo; i <= hi; i++ {
		alts = append(alts, fmt.Sprintf("%04d", i))
	}
	return strings.Join(alts, "|")
}

func writePlaybook(dir string, lf *testenv.LightFleetEnv, n, parallel int) (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "scaleload@"+testenv.ClientDomain)
	if err != nil {
		return "", err
	}
	key := filepath.Join(dir, "signing_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	var pass [18]byte
	if _, err := rand.Read(pass[:]); err != nil {
		return "", err
	}
	passFile := filepath.Join(dir, "store-passphrase")
	if err := os.WriteFile(passFile, []byte(fmt.Sprintf("%x\n", pass)), 0o600); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `version: 1
handover:
  client: {name: %s}
  outgoing: {name: %s, domain: %s}
state: %s/state
secrets:
  file:
    path: %s/secrets.age
    passphrase: ${file:%s}
signing:
  key: %s
  identity: scaleload@%s
outgoing:
  domains: [%s]
policy:
  rotate: {admins: false, accounts: ["parc:root"]}
  parallel: %d
targets:
  - name: parc
    type: ssh
    user: root
    auth: {key_file: %s}
    known_hosts: %s
    access_key: false
    passwords:
`, testenv.ClientName, testenv.ProviderName, testenv.ProviderDomain, dir, dir, passFile, key, testenv.ClientDomain, testenv.ProviderDomain, parallel, lf.OperatorKey, lf.KnownHosts)
	for _, h := range lf.Hosts[:n] {
		fmt.Fprintf(&b, "      - {account: root, password: \"${file:%s}\", hosts: [%s]}\n", h.RootPasswordFile, h.Name)
	}
	b.WriteString("    hosts:\n")
	for _, h := range lf.Hosts[:n] {
		fmt.Fprintf(&b, "      - {name: %s, address: %s}\n", h.Name, strings.Split(h.Addr, ":")[0])
	}
	p := filepath.Join(dir, "playbook.yaml")
	return p, os.WriteFile(p, []byte(b.String()), 0o600)
}

// memCgroup is the cgroup v1 memory controller's root, or cgroup v2's.
func memCgroup() (dir string, v2 bool) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return "/sys/fs/cgroup/memory", false
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "/sys/fs/cgroup", true
	}
	return "", false
}

// measured runs handover argv in a memory cgroup of limitMB (and with
// GOMEMLIMIT at 80 % of it), and records its cost.
func measured(label string, hosts, limitMB int, bin string, argv []string, logFile string) (Record, error) {
	r := Record{Label: label, Hosts: hosts, LimitMB: limitMB}
	log, err := os.Create(logFile)
	if err != nil {
		return r, err
	}
	defer log.Close()
	var cg string
	root, v2 := memCgroup()
	env := os.Environ()
	cmdArgv := append([]string{bin}, argv...)
	if limitMB > 0 {
		env = append(env, fmt.Sprintf("GOMEMLIMIT=%dMiB", limitMB*8/10))
		if root != "" {
			cg = filepath.Join(root, fmt.Sprintf("handover-scaleload-%d", os.Getpid()))
			if err := os.Mkdir(cg, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return r, err
			}
			defer os.Remove(cg)
			limit := strconv.Itoa(limitMB << 20)
			files := map[string]string{"memory.limit_in_bytes": limit}
			if v2 {
				files = map[string]string{"memory.max": limit, "memory.swap.max": "0"}
			}
			for f, v := range files {
				if err := os.WriteFile(filepath.Join(cg, f), []byte(v), 0o644); err != nil {
					return r, fmt.Errorf("%s: %w", f, err)
				}
			}
			// The shell joins the cgroup, then becomes handover.
			cmdArgv = append([]string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg}, cmdArgv...)
		}
	}
	cmd := exec.Command(cmdArgv[0], cmdArgv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	err = cmd.Run()
	r.Wall = time.Since(start).Seconds()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return r, err
	}
	if st := cmd.ProcessState; st != nil {
		r.Exit = st.ExitCode()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			r.PeakRSS = float64(ru.Maxrss) / 1024
			r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	if cg != "" {
		peak := "memory.max_usage_in_bytes"
		if v2 {
			peak = "memory.peak"
		}
		if b, err := os.ReadFile(filepath.Join(cg, peak)); err == nil {
			n, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
			r.CgroupPeak = n / (1 << 20)
		}
		events := "memory.oom_control"
		if v2 {
			events = "memory.events"
		}
		if b, err := os.ReadFile(filepath.Join(cg, events)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "oom_kill" {
					r.OOMKills, _ = strconv.Atoi(f[1])
				}
			}
		}
	}
	return r, nil
}
