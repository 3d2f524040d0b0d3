package tlsconf

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// sslv3ClientHello is an SSL 3.0 ClientHello (RFC 6101 5.6.1.2) in one
// record, offering only TLS_RSA_WITH_AES_128_CBC_SHA and
// TLS_RSA_WITH_3DES_EDE_CBC_SHA, without extensions. Neither OpenSSL 3 nor
// Go can send one any more, so it is written by hand.
func sslv3ClientHello() []byte {
	body := []byte{0x03, 0x00}                             // client_version SSL 3.0
	body = append(body, bytes.Repeat([]byte{0x5a}, 32)...) // random
	body = append(body, 0x00)                              // session_id: empty
	body = append(body, 0x00, 0x04, 0x00, 0x2f, 0x00, 0x0a)
	body = append(body, 0x01, 0x00) // compression: null
	hs := append([]byte{0x01, 0x00, 0x00, byte(len(body))}, body...)
	return append([]byte{0x16, 0x03, 0x00, 0x00, byte(len(hs))}, hs...)
}

// TestSSLv3Hello: adversarial row 40's SSLv3 case. The node answers an
// SSL 3.0 ClientHello with a fatal protocol_version alert (RFC 8446 6.2,
// description 70) and closes; nothing reaches association negotiation.
func TestSSLv3Hello(t *testing.T) {
	p := pki(t)
	ts := startServer(t, serverConfig(p), nil)
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(sslv3ClientHello()); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset by peer") {
		t.Fatalf("reading the answer: %v (the server did not close)", err)
	}
	// One alert record: type 21, any record version, length 2, fatal (2),
	// protocol_version (70).
	if len(got) != 7 || got[0] != 0x15 || got[3] != 0 || got[4] != 2 || got[5] != 2 || got[6] != 70 {
		t.Fatalf("answer to an SSLv3 hello: % x, want one fatal protocol_version alert", got)
	}
	ts.rec.waitAborted(t, "unsupported versions")
	ts.rec.mu.Lock()
	defer ts.rec.mu.Unlock()
	if len(ts.rec.accepted)+len(ts.rec.rejected) != 0 {
		t.Errorf("an SSLv3 hello reached association negotiation")
	}
}
