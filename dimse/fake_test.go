package dimse

import (
	"context"
	"io"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// recorder is a PDataWriter that keeps a copy of every P-DATA-TF sent.
type recorder struct {
	pdus [][]pdu.PDV
	fail int // when > 0, the fail-th SendPData call returns errSend
}

var errSend = io.ErrClosedPipe

func (r *recorder) SendPData(ctx context.Context, pdvs []pdu.PDV) error {
	if r.fail > 0 && len(r.pdus)+1 == r.fail {
		return errSend
	}
	cp := make([]pdu.PDV, len(pdvs))
	for i, p := range pdvs {
		p.Data = append([]byte(nil), p.Data...)
		cp[i] = p
	}
	r.pdus = append(r.pdus, cp)
	return nil
}

// script is a PDataReader replaying P-DATA-TFs, then io.EOF.
type script struct {
	pdus  [][]pdu.PDV
	reads int
}

func (s *script) ReadPData(ctx context.Context) ([]pdu.PDV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.reads >= len(s.pdus) {
		return nil, io.EOF
	}
	s.reads++
	return s.pdus[s.reads-1], nil
}

// gen is an endless reader of a deterministic byte pattern.
type gen struct{ n int64 }

func (g *gen) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(g.n*7 + g.n>>8)
		g.n++
	}
	return len(p), nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	(&gen{}).Read(b)
	return b
}
