package worksync_test

import (
	"testing"

	"github.com/flotilla-io/flotilla/test/framework/tcpproxy"
)

// partition is a TCP proxy between the agent and the hub that the test can
// cut, as a network outage would: every open connection is closed and no
// new one is accepted until restore. The address stays the same.
type partition struct {
	*tcpproxy.Proxy
	addr string
}

func newPartition(t *testing.T, target string) *partition {
	t.Helper()
	p, err := tcpproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &partition{Proxy: p, addr: p.Addr()}
}

// cut closes every connection and stops accepting.
func (p *partition) cut() { p.Cut() }

// restore accepts connections again on the same address.
func (p *partition) restore(t *testing.T) {
	t.Helper()
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
}
