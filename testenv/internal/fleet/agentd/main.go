// Command agentd stands in for the daemon of a remote-maintenance agent
// (teamviewerd, anydesk, rustdesk, ninjarmm-linagent, rmmagent) on the
// testenv's fleet. The fleet copies this one binary under each tool's real
// path, so the process name, /proc/<pid>/exe and `dpkg -S` of the running
// daemon read exactly as they would for the real tool. It does nothing but
// wait to be stopped: what matters to a connector is that it runs.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

func main() {
	// Hundreds of these run at once on a small machine: keep each one to a
	// single OS thread and a small heap.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(20)
	// Daemons reload on SIGHUP rather than die.
	signal.Ignore(syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
