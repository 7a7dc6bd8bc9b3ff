// Package storetest is the conformance suite every secret.Store passes: the
// rotation protocol relies on the same version numbering, state rules and
// redaction whatever the store is (memory, file, Vault).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/secret"
)

// Open returns a new, empty store for one test. It registers its own
// cleanup with t.
type Open func(t *testing.T) secret.Store

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open Open) {
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, open(t)) })
	t.Run("Values", func(t *testing.T) { testValues(t, open(t)) })
	t.Run("Numbering", func(t *testing.T) { testNumbering(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("Transitions", func(t *testing.T) { testTransitions(t, open) })
	t.Run("CurrentSupersedes", func(t *testing.T) { testCurrentSupersedes(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("InvalidPut", func(t *testing.T) { testInvalidPut(t, open(t)) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open(t)) })
	t.Run("NoSecretInListOrErrors", func(t *testing.T) { testNoLeak(t, open(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, open(t)) })
}

// ctx gives every test a deadline: a store that hangs fails instead.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, c context.Context, s secret.Store, path, value string, meta map[string]string) secret.Version {
	t.Helper()
	v, err := s.PutPending(c, path, secret.New(value), meta)
	if err != nil {
		t.Fatalf("PutPending(%s): %v", path, err)
	}
	return v
}

func setState(t *testing.T, c context.Context, s secret.Store, path string, version int, state secret.State) {
	t.Helper()
	if err := s.SetState(c, path, version, state); err != nil {
		t.Fatalf("SetState(%s#%d, %s): %v", path, version, state, err)
	}
}

func get(t *testing.T, c context.Context, s secret.Store, path string, version int) (secret.Secret, secret.Version) {
	t.Helper()
	val, v, err := s.Get(c, path, version)
	if err != nil {
		t.Fatalf("Get(%s#%d): %v", path, version, err)
	}
	return val, v
}

func states(t *testing.T, c context.Context, s secret.Store, path string) []secret.State {
	t.Helper()
	vs, err := s.List(c)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []secret.State
	for _, v := range vs {
		if v.Path == path {
			out = append(out, v.State)
		}
	}
	return out
}

func testPutGet(t *testing.T, s secret.Store) {
	c := ctx(t)
	before := time.Now().Add(-2 * time.Second)
	meta := map[string]string{"target": "ldap", "dn": "cn=admin,dc=example,dc=test"}
	v := put(t, c, s, "ldap/cn=admin", "first value", meta)
	after := time.Now().Add(2 * time.Second)

	if v.Path != "ldap/cn=admin" || v.Version != 1 || v.State != secret.Pending {
		t.Fatalf("PutPending = %+v, want ldap/cn=admin#1 pending", v)
	}
	if v.Created.Before(before) || v.Created.After(after) {
		t.Errorf("Created = %s, want between %s and %s", v.Created, before, after)
	}
	if !mapsEqual(v.Meta, meta) {
		t.Errorf("PutPending meta = %v, want %v", v.Meta, meta)
	}

	val, got := get(t, c, s, "ldap/cn=admin", 1)
	if val.Reveal() != "first value" {
		t.Errorf("Get value differs from the value put")
	}
	if got.Path != v.Path || got.Version != 1 || got.State != secret.Pending || !got.Created.Equal(v.Created) || !mapsEqual(got.Meta, meta) {
		t.Errorf("Get version = %+v, want %+v", got, v)
	}
	// A pending version is not current: version 0 finds nothing yet.
	if _, _, err := s.Get(c, "ldap/cn=admin", 0); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get(current) with only a pending version: err = %v, want ErrNotFound", err)
	}
	setState(t, c, s, "ldap/cn=admin", 1, secret.Current)
	val, got = get(t, c, s, "ldap/cn=admin", 0)
	if val.Reveal() != "first value" || got.Version != 1 || got.State != secret.Current {
		t.Errorf("Get(current) = %+v, want version 1 current with the value put", got)
	}
	// The caller's meta map is not aliased by the store.
	meta["target"] = "changed"
	if _, got = get(t, c, s, "ldap/cn=admin", 1); got.Meta["target"] != "ldap" {
		t.Errorf("meta changed through the caller's map: %v", got.Meta)
	}
	// Nor is the returned one.
	got.Meta["target"] = "changed again"
	if _, got = get(t, c, s, "ldap/cn=admin", 1); got.Meta["target"] != "ldap" {
		t.Errorf("meta changed through a returned map: %v", got.Meta)
	}
}

func testValues(t *testing.T, s secret.Store) {
	c := ctx(t)
	tests := []struct {
		name  string
		path  string
		value []byte
	}{
		{"ascii", "v/ascii", []byte("correct horse battery staple")},
		{"unicode", "v/unicode", []byte("mot de passe: été €")},
		{"binary", "v/binary", []byte{0, 1, 2, 0xff, 0xfe, '\n', 0x80}},
		{"multiline key", "v/ssh key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")},
		{"json-looking", "v/json", []byte(`{"value":"x","meta":{}}`)},
		{"long", "v/long", []byte(strings.Repeat("0123456789abcdef", 512))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := s.PutPending(c, tt.path, secret.FromBytes(slices.Clone(tt.value)), nil)
			if err != nil {
				t.Fatalf("PutPending: %v", err)
			}
			val, _ := get(t, c, s, tt.path, v.Version)
			if !slices.Equal(val.RevealBytes(), tt.value) {
				t.Errorf("value of %s did not survive the store (%d bytes back, %d put)", tt.path, len(val.RevealBytes()), len(tt.value))
			}
		})
	}
}

func testNumbering(t *testing.T, s secret.Store) {
	c := ctx(t)
	for want := 1; want <= 3; want++ {
		if v := put(t, c, s, "a/b", fmt.Sprintf("value %d", want), nil); v.Version != want {
			t.Fatalf("version = %d, want %d", v.Version, want)
		}
	}
	// Each path numbers its own versions; a path may also be a prefix of
	// another.
	for _, p := range []string{"a", "a/b/c", "other"} {
		if v := put(t, c, s, p, "x", nil); v.Version != 1 {
			t.Errorf("first version of %s = %d, want 1", p, v.Version)
		}
	}
	for want := 1; want <= 3; want++ {
		val, v := get(t, c, s, "a/b", want)
		if v.Version != want || val.Reveal() != fmt.Sprintf("value %d", want) {
			t.Errorf("Get(a/b#%d) = version %d with another value", want, v.Version)
		}
	}
}

func testList(t *testing.T, s secret.Store) {
	c := ctx(t)
	vs, err := s.List(c)
	if err != nil {
		t.Fatalf("List on an empty store: %v", err)
	}
	if len(vs) != 0 {
		t.Fatalf("List on an empty store = %+v, want nothing", vs)
	}
	put(t, c, s, "mail/postmaster", "p1", map[string]string{"k": "1"})
	put(t, c, s, "ldap/admin", "l1", nil)
	put(t, c, s, "ldap/admin", "l2", map[string]string{"k": "2"})
	put(t, c, s, "ldap/admin", "l3", nil)
	setState(t, c, s, "ldap/admin", 1, secret.Current)
	setState(t, c, s, "ldap/admin", 2, secret.Failed)
	setState(t, c, s, "ldap/admin", 3, secret.Current)

	vs, err = s.List(c)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	type row struct {
		Path    string
		Version int
		State   secret.State
		K       string
	}
	var got []row
	for _, v := range vs {
		if v.Created.IsZero() {
			t.Errorf("List: %s#%d has no creation time", v.Path, v.Version)
		}
		got = append(got, row{v.Path, v.Version, v.State, v.Meta["k"]})
	}
	want := []row{
		{"ldap/admin", 1, secret.Superseded, ""},
		{"ldap/admin", 2, secret.Failed, "2"},
		{"ldap/admin", 3, secret.Current, ""},
		{"mail/postmaster", 1, secret.Pending, "1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("List =\n%+v\nwant (sorted by path, then version)\n%+v", got, want)
	}
}

func testTransitions(t *testing.T, open Open) {
	// reach puts a version and brings it to state; the store also holds a
	// current version 1 so that "superseded" is reachable.
	reach := func(t *testing.T, c context.Context, s secret.Store, state secret.State) int {
		t.Helper()
		put(t, c, s, "p", "v1", nil)
		setState(t, c, s, "p", 1, secret.Current)
		v := put(t, c, s, "p", "v2", nil)
		switch state {
		case secret.Pending:
		case secret.Failed:
			setState(t, c, s, "p", v.Version, secret.Failed)
		case secret.Current:
			setState(t, c, s, "p", v.Version, secret.Current)
		case secret.Superseded:
			setState(t, c, s, "p", v.Version, secret.Current)
			put(t, c, s, "p", "v3", nil)
			setState(t, c, s, "p", 3, secret.Current)
		}
		return v.Version
	}
	tests := []struct {
		from, to secret.State
		allowed  bool
	}{
		{secret.Pending, secret.Pending, true},
		{secret.Pending, secret.Current, true},
		{secret.Pending, secret.Failed, true},
		{secret.Pending, secret.Superseded, false},
		{secret.Current, secret.Current, true},
		{secret.Current, secret.Pending, false},
		{secret.Current, secret.Failed, false},
		{secret.Current, secret.Superseded, false},
		{secret.Failed, secret.Failed, true},
		{secret.Failed, secret.Current, true},
		{secret.Failed, secret.Pending, false},
		{secret.Failed, secret.Superseded, false},
		{secret.Superseded, secret.Superseded, true},
		{secret.Superseded, secret.Current, false},
		{secret.Superseded, secret.Pending, false},
		{secret.Superseded, secret.Failed, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"-"+string(tt.to), func(t *testing.T) {
			s := open(t)
			c := ctx(t)
			v := reach(t, c, s, tt.from)
			err := s.SetState(c, "p", v, tt.to)
			if tt.allowed && err != nil {
				t.Fatalf("SetState %s → %s: %v", tt.from, tt.to, err)
			}
			if !tt.allowed && !errors.Is(err, secret.ErrTransition) {
				t.Fatalf("SetState %s → %s: err = %v, want ErrTransition", tt.from, tt.to, err)
			}
			want := tt.from
			if tt.allowed {
				want = tt.to
			}
			if _, got := get(t, c, s, "p", v); got.State != want {
				t.Errorf("state after SetState %s → %s = %s, want %s", tt.from, tt.to, got.State, want)
			}
		})
	}
	t.Run("unknown state", func(t *testing.T) {
		s := open(t)
		c := ctx(t)
		put(t, c, s, "p", "v1", nil)
		if err := s.SetState(c, "p", 1, secret.State("revoked")); err == nil {
			t.Fatal("SetState to an unknown state succeeded")
		}
	})
	t.Run("version zero", func(t *testing.T) {
		s := open(t)
		c := ctx(t)
		put(t, c, s, "p", "v1", nil)
		setState(t, c, s, "p", 1, secret.Current)
		if err := s.SetState(c, "p", 0, secret.Current); err == nil {
			t.Fatal("SetState on version 0 succeeded")
		}
	})
}

func testCurrentSupersedes(t *testing.T, s secret.Store) {
	c := ctx(t)
	put(t, c, s, "p", "v1", nil)
	put(t, c, s, "p", "v2", nil)
	put(t, c, s, "p", "v3", nil)
	put(t, c, s, "q", "q1", nil)
	setState(t, c, s, "q", 1, secret.Current)

	steps := []struct {
		name    string
		version int
		state   secret.State
		want    []secret.State
		current string
	}{
		{"first current", 1, secret.Current, []secret.State{secret.Current, secret.Pending, secret.Pending}, "v1"},
		{"second fails", 2, secret.Failed, []secret.State{secret.Current, secret.Failed, secret.Pending}, "v1"},
		{"third current", 3, secret.Current, []secret.State{secret.Superseded, secret.Failed, secret.Current}, "v3"},
		{"retried step", 3, secret.Current, []secret.State{secret.Superseded, secret.Failed, secret.Current}, "v3"},
		{"failed recovered", 2, secret.Current, []secret.State{secret.Superseded, secret.Current, secret.Superseded}, "v2"},
	}
	for _, st := range steps {
		setState(t, c, s, "p", st.version, st.state)
		if got := states(t, c, s, "p"); !slices.Equal(got, st.want) {
			t.Fatalf("%s: states = %v, want %v", st.name, got, st.want)
		}
		if val, _ := get(t, c, s, "p", 0); val.Reveal() != st.current {
			t.Fatalf("%s: current value is not %s's", st.name, st.current)
		}
	}
	// Another path is untouched.
	if got := states(t, c, s, "q"); !slices.Equal(got, []secret.State{secret.Current}) {
		t.Errorf("states of q = %v, want [current]", got)
	}
}

func testNotFound(t *testing.T, s secret.Store) {
	c := ctx(t)
	put(t, c, s, "known", "v1", nil)
	tests := []struct {
		name string
		op   func() error
	}{
		{"get unknown path", func() error { _, _, err := s.Get(c, "unknown", 1); return err }},
		{"get current of unknown path", func() error { _, _, err := s.Get(c, "unknown", 0); return err }},
		{"get unknown version", func() error { _, _, err := s.Get(c, "known", 7); return err }},
		{"get prefix of a path", func() error { _, _, err := s.Get(c, "kno", 1); return err }},
		{"set state of unknown path", func() error { return s.SetState(c, "unknown", 1, secret.Current) }},
		{"set state of unknown version", func() error { return s.SetState(c, "known", 7, secret.Current) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, secret.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func testInvalidPut(t *testing.T, s secret.Store) {
	c := ctx(t)
	tests := []struct {
		name  string
		path  string
		value secret.Secret
		meta  map[string]string
	}{
		{"empty path", "", secret.New("x"), nil},
		{"leading slash", "/a", secret.New("x"), nil},
		{"trailing slash", "a/", secret.New("x"), nil},
		{"empty segment", "a//b", secret.New("x"), nil},
		{"dot segment", "a/./b", secret.New("x"), nil},
		{"dot-dot segment", "a/../b", secret.New("x"), nil},
		{"hash", "a#1", secret.New("x"), nil},
		{"question mark", "a?b", secret.New("x"), nil},
		{"control character", "a\x01b", secret.New("x"), nil},
		{"too long", strings.Repeat("a", 513), secret.New("x"), nil},
		{"empty value", "a", secret.Secret{}, nil},
		{"reserved meta key", "a", secret.New("x"), map[string]string{"value": "y"}},
		{"empty meta key", "a", secret.New("x"), map[string]string{"": "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.PutPending(c, tt.path, tt.value, tt.meta); err == nil {
				t.Fatalf("PutPending(%q) succeeded", tt.path)
			}
		})
	}
	vs, err := s.List(c)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(vs) != 0 {
		t.Errorf("refused puts left versions behind: %+v", vs)
	}
}

func testConcurrency(t *testing.T, s secret.Store) {
	c := ctx(t)
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	versions := make(chan int, writers)
	for i := range writers {
		wg.Add(2)
		// Writers on one shared path each get their own version.
		go func() {
			defer wg.Done()
			v, err := s.PutPending(c, "shared", secret.New(fmt.Sprintf("value %d", i)), map[string]string{"writer": fmt.Sprint(i)})
			if err != nil {
				errs <- err
				return
			}
			versions <- v.Version
		}()
		// Writers on paths of their own do not disturb each other.
		go func() {
			defer wg.Done()
			p := fmt.Sprintf("own/%d", i)
			v, err := s.PutPending(c, p, secret.New("mine"), nil)
			if err == nil {
				err = s.SetState(c, p, v.Version, secret.Current)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(versions)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	got := slices.Sorted(func(yield func(int) bool) {
		for v := range versions {
			if !yield(v) {
				return
			}
		}
	})
	want := []int{1, 2, 3, 4, 5, 6}
	if !slices.Equal(got, want) {
		t.Fatalf("concurrent versions = %v, want %v", got, want)
	}
	// Every shared version kept the value of the writer that got it.
	for v := 1; v <= writers; v++ {
		val, ver := get(t, c, s, "shared", v)
		if val.Reveal() != "value "+ver.Meta["writer"] {
			t.Errorf("shared#%d: value and meta come from different writers", v)
		}
	}
	for i := range writers {
		if got := states(t, c, s, fmt.Sprintf("own/%d", i)); !slices.Equal(got, []secret.State{secret.Current}) {
			t.Errorf("own/%d states = %v, want [current]", i, got)
		}
	}
}

// canary is a value that must never come out of the store except through
// Get's Secret.
const canary = "canary-Zq8v1Xw3-do-not-print"

func testNoLeak(t *testing.T, s secret.Store) {
	c := ctx(t)
	put(t, c, s, "leak/one", canary, map[string]string{"purpose": "test"})
	put(t, c, s, "leak/one", canary+"-2", nil)
	setState(t, c, s, "leak/one", 1, secret.Current)

	vs, err := s.List(c)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	b, err := json.Marshal(vs)
	if err != nil {
		t.Fatalf("marshal List: %v", err)
	}
	printed := []string{string(b), fmt.Sprintf("%v", vs), fmt.Sprintf("%+v", vs), fmt.Sprintf("%#v", vs)}

	val, v, err := s.Get(c, "leak/one", 1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if val.Reveal() != canary {
		t.Fatalf("Get returned another value")
	}
	printed = append(printed, fmt.Sprintf("%v %+v %#v %s %q %x", val, val, val, val, val, val), fmt.Sprintf("%+v", v))
	if b, err = json.Marshal(struct {
		V secret.Secret
		M secret.Version
	}{val, v}); err != nil {
		t.Fatalf("marshal Get: %v", err)
	}
	printed = append(printed, string(b))

	// Every error a store can return about this path.
	for _, err := range []error{
		s.SetState(c, "leak/one", 1, secret.Failed),
		s.SetState(c, "leak/one", 1, secret.Pending),
		s.SetState(c, "leak/one", 9, secret.Current),
		s.SetState(c, "leak/one", 2, secret.State("bogus")),
		errOf(s.Get(c, "leak/one", 9)),
		errOf(s.Get(c, "leak/other", 0)),
		errOf2(s.PutPending(c, "leak/one", secret.New(canary), map[string]string{"value": canary})),
		errOf2(s.PutPending(c, "leak//one", secret.New(canary), nil)),
	} {
		if err == nil {
			t.Fatal("an operation that must fail succeeded")
		}
		printed = append(printed, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	}
	printed = append(printed, s.Location(), s.Kind())
	for _, p := range printed {
		if strings.Contains(p, canary) {
			t.Errorf("secret value leaked into %q", p)
		}
	}
}

func errOf(_ secret.Secret, _ secret.Version, err error) error { return err }
func errOf2(_ secret.Version, err error) error                 { return err }

func testCanceled(t *testing.T, s secret.Store) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.PutPending(c, "p", secret.New("x"), nil); err == nil {
		t.Error("PutPending with a canceled context succeeded")
	}
	if err := s.SetState(c, "p", 1, secret.Current); err == nil {
		t.Error("SetState with a canceled context succeeded")
	}
	if _, _, err := s.Get(c, "p", 1); err == nil {
		t.Error("Get with a canceled context succeeded")
	}
	if _, err := s.List(c); err == nil {
		t.Error("List with a canceled context succeeded")
	}
	if err := s.Check(c); err == nil {
		t.Error("Check with a canceled context succeeded")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// testBatch checks the optional Batcher: several versions and states in
// one write, numbered and ruled as one by one, and nothing written when
// any part is refused.
func testBatch(t *testing.T, s secret.Store) {
	b, ok := s.(secret.Batcher)
	if !ok {
		return // optional: the engine writes one by one
	}
	c := ctx(t)
	put(t, c, s, "batch/a", "a1", nil)
	vs, err := b.PutPendingAll(c, []secret.Put{
		{Path: "batch/a", Value: secret.New("a2"), Meta: map[string]string{"run": "r1"}},
		{Path: "batch/b", Value: secret.New("b1")},
	})
	if err != nil {
		t.Fatalf("PutPendingAll: %v", err)
	}
	if len(vs) != 2 || vs[0].Path != "batch/a" || vs[0].Version != 2 || vs[1].Path != "batch/b" || vs[1].Version != 1 {
		t.Fatalf("PutPendingAll versions = %+v, want batch/a#2 and batch/b#1", vs)
	}
	for _, v := range vs {
		if v.State != secret.Pending {
			t.Errorf("%s#%d is %s, want pending", v.Path, v.Version, v.State)
		}
	}
	if err := b.SetStates(c, []secret.StateChange{{Path: "batch/a", Version: 2, State: secret.Current}, {Path: "batch/b", Version: 1, State: secret.Current}}); err != nil {
		t.Fatalf("SetStates: %v", err)
	}
	for _, tt := range []struct{ path, want string }{{"batch/a", "a2"}, {"batch/b", "b1"}} {
		v, meta := get(t, c, s, tt.path, 0)
		if v.Reveal() != tt.want || meta.State != secret.Current {
			t.Errorf("current %s = %s (%s), want %s", tt.path, meta.State, map[bool]string{true: "value ok", false: "value differs"}[v.Reveal() == tt.want], tt.want)
		}
	}

	// All or nothing: an invalid path or transition refuses the whole batch.
	if _, err := b.PutPendingAll(c, []secret.Put{{Path: "batch/c", Value: secret.New("c1")}, {Path: "/bad//path", Value: secret.New("x")}}); err == nil {
		t.Fatal("PutPendingAll with an invalid path succeeded")
	}
	if _, _, err := s.Get(c, "batch/c", 1); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("after a refused batch, batch/c#1: err = %v, want ErrNotFound", err)
	}
	err = b.SetStates(c, []secret.StateChange{{Path: "batch/a", Version: 1, State: secret.Failed}, {Path: "batch/b", Version: 1, State: secret.Pending}})
	if err == nil {
		t.Fatal("SetStates with a refused transition succeeded")
	}
	if got := states(t, c, s, "batch/a"); !slices.Equal(got, []secret.State{secret.Pending, secret.Current}) {
		t.Errorf("after a refused batch, batch/a states = %v, want [pending current]", got)
	}
}
