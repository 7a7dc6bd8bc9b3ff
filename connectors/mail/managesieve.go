package mail

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/secret"
)

// A small ManageSieve client (RFC 5804): STARTTLS (required before any
// credential is sent), AUTHENTICATE PLAIN, LISTSCRIPTS, GETSCRIPT,
// CHECKSCRIPT, PUTSCRIPT. No maintained Go client was found in the module
// proxy this project builds from.

// sieveConn is one ManageSieve session.
type sieveConn struct {
	conn net.Conn
	r    *bufio.Reader
	caps map[string]string
}

// sieveResponse is a command's final response: OK, NO or BYE, with its
// response code and human-readable text.
type sieveResponse struct {
	Status, Code, Text string
}

func (r sieveResponse) err() error {
	if r.Status == "OK" {
		return nil
	}
	return &sieveNo{r}
}

type sieveNo struct{ r sieveResponse }

func (e *sieveNo) Error() string {
	s := "managesieve " + e.r.Status
	if e.r.Code != "" {
		s += " (" + e.r.Code + ")"
	}
	return s + ": " + e.r.Text
}

// dialSieve connects, upgrades with STARTTLS (verifying the certificate)
// and logs in as login. A server that offers no STARTTLS gets no
// password. ok is false (with the server's words) when the login is
// refused.
func (t *target) dialSieve(ctx context.Context, login string, pw secret.Secret) (c *sieveConn, ok bool, why string, err error) {
	cfg, err := t.tlsConfig()
	if err != nil {
		return nil, false, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.s.ManageSieve)
	if err != nil {
		return nil, false, "", fmt.Errorf("managesieve %s: %w", t.s.ManageSieve, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	c = &sieveConn{conn: raw, r: bufio.NewReader(raw)}
	fail := func(err error) (*sieveConn, bool, string, error) {
		raw.Close()
		return nil, false, "", fmt.Errorf("managesieve %s: %w", t.s.ManageSieve, err)
	}
	if err := c.readCaps(); err != nil {
		return fail(err)
	}
	if _, ok := c.caps["STARTTLS"]; !ok {
		return fail(errors.New("the server offers no STARTTLS: no credential is sent in clear"))
	}
	if _, err := c.command("STARTTLS"); err != nil {
		return fail(err)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("TLS: %w", err))
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	// After STARTTLS the server sends its capabilities again.
	if err := c.readCaps(); err != nil {
		return fail(err)
	}
	creds := []byte("\x00" + login + "\x00" + pw.Reveal())
	arg := base64.StdEncoding.EncodeToString(creds)
	clear(creds)
	resp, err := c.roundTrip(`AUTHENTICATE "PLAIN" "` + arg + `"`)
	if err != nil {
		return fail(err)
	}
	if resp.Status != "OK" {
		raw.Close()
		return nil, false, resp.Status + " " + resp.Text, nil
	}
	return c, true, "", nil
}

func (c *sieveConn) Close() error {
	_, _ = c.roundTrip("LOGOUT")
	return c.conn.Close()
}

// readCaps reads the capability lines up to the OK that ends them.
func (c *sieveConn) readCaps() error {
	c.caps = map[string]string{}
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		if resp, ok := parseSieveResponse(line); ok {
			return resp.err()
		}
		words, err := c.words(line)
		if err != nil {
			return err
		}
		if len(words) > 0 {
			v := ""
			if len(words) > 1 {
				v = words[1]
			}
			c.caps[strings.ToUpper(words[0])] = v
		}
	}
}

func (c *sieveConn) line() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// parseSieveResponse recognises a final response line: OK, NO or BYE,
// an optional (CODE) and an optional quoted text.
func parseSieveResponse(line string) (sieveResponse, bool) {
	word, rest, _ := strings.Cut(line, " ")
	switch strings.ToUpper(word) {
	case "OK", "NO", "BYE":
	default:
		return sieveResponse{}, false
	}
	r := sieveResponse{Status: strings.ToUpper(word)}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") {
		if i := strings.IndexByte(rest, ')'); i > 0 {
			r.Code, rest = rest[1:i], strings.TrimSpace(rest[i+1:])
		}
	}
	if s, err := strconv.Unquote(rest); err == nil {
		r.Text = s
	} else {
		r.Text = rest
	}
	return r, true
}

// words splits a response line into its strings: quoted, literal
// ({n}, whose bytes follow the line) or atoms.
func (c *sieveConn) words(line string) ([]string, error) {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		switch line[0] {
		case '"':
			var b strings.Builder
			i := 1
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				b.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated string in %q", line)
			}
			out = append(out, b.String())
			line = line[i+1:]
		case '{':
			end := strings.IndexByte(line, '}')
			if end < 0 {
				return nil, fmt.Errorf("bad literal in %q", line)
			}
			n, err := strconv.Atoi(strings.TrimSuffix(line[1:end], "+"))
			if err != nil || n < 0 || n > 1<<24 {
				return nil, fmt.Errorf("bad literal length in %q", line)
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				return nil, err
			}
			out = append(out, string(buf))
			// The literal's line goes on after its bytes.
			rest, err := c.line()
			if err != nil {
				return nil, err
			}
			line = rest
		default:
			w, rest, _ := strings.Cut(line, " ")
			out = append(out, w)
			line = rest
		}
	}
	return out, nil
}

// roundTrip sends a command and reads lines up to its final response,
// returning the data lines' words.
func (c *sieveConn) roundTrip(cmd string) (sieveResponse, error) {
	_, resp, err := c.exchange(cmd)
	return resp, err
}

func (c *sieveConn) exchange(cmd string) ([][]string, sieveResponse, error) {
	if _, err := io.WriteString(c.conn, cmd+"\r\n"); err != nil {
		return nil, sieveResponse{}, err
	}
	var data [][]string
	for {
		line, err := c.line()
		if err != nil {
			return nil, sieveResponse{}, err
		}
		if resp, ok := parseSieveResponse(line); ok {
			return data, resp, nil
		}
		w, err := c.words(line)
		if err != nil {
			return nil, sieveResponse{}, err
		}
		data = append(data, w)
	}
}

// command sends a command and fails on any answer but OK.
func (c *sieveConn) command(cmd string) ([][]string, error) {
	data, resp, err := c.exchange(cmd)
	if err != nil {
		return nil, err
	}
	return data, resp.err()
}

func sieveLiteral(s string) string { return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s }

// sieveQuote quotes a script name.
func sieveQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// list returns the user's scripts and which one is active.
func (c *sieveConn) list() (names []string, active string, err error) {
	data, err := c.command("LISTSCRIPTS")
	if err != nil {
		return nil, "", err
	}
	for _, w := range data {
		if len(w) == 0 {
			continue
		}
		names = append(names, w[0])
		if len(w) > 1 && strings.EqualFold(w[1], "ACTIVE") {
			active = w[0]
		}
	}
	return names, active, nil
}

func (c *sieveConn) get(name string) (string, error) {
	data, err := c.command("GETSCRIPT " + sieveQuote(name))
	if err != nil {
		return "", err
	}
	if len(data) == 0 || len(data[0]) == 0 {
		return "", fmt.Errorf("GETSCRIPT %s: no script", name)
	}
	return data[0][0], nil
}

// check has the server compile a script without storing it.
func (c *sieveConn) check(content string) error {
	_, err := c.command("CHECKSCRIPT " + sieveLiteral(content))
	return err
}

func (c *sieveConn) put(name, content string) error {
	_, err := c.command("PUTSCRIPT " + sieveQuote(name) + " " + sieveLiteral(content))
	return err
}
