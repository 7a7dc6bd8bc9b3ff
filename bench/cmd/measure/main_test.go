package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestProcCPUReadsOwnStat(t *testing.T) {
	// Burn CPU for 50 ms, well above USER_HZ's 10 ms resolution.
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	got, err := procCPU([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0 {
		t.Errorf("procCPU(self) = %d ticks, want > 0", got)
	}
	if _, err := procCPU([]int{1 << 30}); err == nil {
		t.Error("procCPU of a PID that cannot exist: no error")
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name              string
		floor, b, c       float64
		rss               float64
		exitB             int
		wantFloor, wantAn bool
		wantRSS           bool
	}{
		{"all met", 10, 14, 300, 100, 0, true, true, true},
		{"all missed", 10, 160, 330, 505, 0, false, false, false},
		{"failed run meets nothing", 10, 12, 300, 100, 1, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summarize(Record{WallS: tt.floor, CPUS: 1}, Record{}, Record{WallS: tt.b, CPUS: 1, MaxRSSMB: tt.rss, ExitCode: tt.exitB}, Record{WallS: tt.c, CPUS: 1})
			got := []bool{s.Targets[0].Met, s.Targets[1].Met, s.Targets[2].Met}
			want := []bool{tt.wantFloor, tt.wantAn, tt.wantRSS}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("target %q met = %v, want %v", s.Targets[i].What, got[i], want[i])
				}
			}
			allMet := tt.wantFloor && tt.wantAn && tt.wantRSS
			if text := render(s, false); strings.Contains(text, "MISSED") == allMet {
				t.Errorf("render, all met = %v:\n%s", allMet, text)
			}
		})
	}
}
