package journal

import (
	"bytes"
	"testing"
)

// A journal read back after a crash or handed over by someone else is
// never trusted: decoding and verifying any bytes must not panic.
func FuzzDecodeAndVerify(f *testing.F) {
	f.Add([]byte(`{"seq":1,"run":"r","kind":"run-start","prev":"","hash":"x"}` + "\n" + `{"seq":2}` + "\n"))
	f.Add([]byte("not json\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Decode(bytes.NewReader(data))
		if err == nil {
			Verify(recs)
		}
	})
}
