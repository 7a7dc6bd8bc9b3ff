package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/handover/secret"
)

// Event is a change of a playbook's state, as a notification says it:
// first drift (clean -> drift), drift changed (drift -> drift, other
// items), recovered (-> clean), check failing (-> failed).
type Event struct {
	Playbook   string           `json:"playbook"`
	File       string           `json:"file"`
	From       freshness.Status `json:"from,omitempty"`
	To         freshness.Status `json:"to"`
	Check      string           `json:"check"`
	Checked    time.Time        `json:"checked"`
	DriftItems int              `json:"drift_items"`
	Drift      []EventItem      `json:"drift,omitempty"`
	Error      string           `json:"error,omitempty"`
	// Reminder: the state did not change; the drift is still there and
	// no one acknowledged it.
	Reminder bool `json:"reminder,omitempty"`
}

// EventItem is one drift item of an event.
type EventItem struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	Kind   string `json:"kind"`
	Change string `json:"change,omitempty"`
	Object string `json:"object,omitempty"`
	Detail string `json:"detail"`
}

// SignatureHeader carries the HMAC-SHA256 of the body with the shared
// secret, "sha256=" and hex, as GitHub's webhooks do.
const SignatureHeader = "X-Handover-Signature-256"

// Notifier posts events to a webhook: a JSON body, signed with HMAC when
// a secret is set, retried with backoff on a network error or a 5xx/429.
type Notifier struct {
	URL      string
	Secret   secret.Secret
	Client   *http.Client
	Attempts int           // 0: 5
	Backoff  time.Duration // first wait between attempts, doubled each time (0: 1 s)
}

// Send posts ev until the receiver answers 2xx, or the attempts run out.
func (n *Notifier) Send(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts, wait := n.Attempts, n.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if wait <= 0 {
		wait = time.Second
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("webhook: %w (last: %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		retry, err := n.post(ctx, client, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return fmt.Errorf("webhook %s: %w", n.URL, last)
}

func (n *Notifier) post(ctx context.Context, client *http.Client, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "handover-serve")
	if !n.Secret.IsZero() {
		mac := hmac.New(sha256.New, n.Secret.RevealBytes())
		mac.Write(body)
		req.Header.Set(SignatureHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return false, fmt.Errorf("the receiver answered %s", resp.Status)
}
