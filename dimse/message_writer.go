package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// fragBufs recycles fragment buffers between messages.
var fragBufs sync.Pool // of *[]byte

// WriteMessage sends one DIMSE message on presentation context contextID
// (PS3.7 §6.3.1, PS3.8 Annex E): the command set, then, when data is not
// nil, the data set read from data to EOF.
//
// Command Data Set Type is set from data (nil = 0x0101, no data set) on a
// copy: cmd itself is not modified. Each fragment goes in its own
// P-DATA-TF of one PDV, holding at most pdu.MaxPDVData(maxPDU) bytes, where
// maxPDU is the peer's Maximum Length (PS3.8 D.1); 0, "unlimited", is sent
// with pdu's default cap (1 MiB PDUs). The last command fragment and the
// last data fragment have the Last bit set; an empty data set is sent as
// one empty last fragment.
//
// The data set is streamed through one reused buffer, never read whole
// into memory. WriteMessage does not validate cmd (see Command.Validate).
// Errors after the first fragment went out wrap ErrMessageIncomplete.
func WriteMessage(ctx context.Context, w PDataWriter, contextID uint8, cmd *Command, data io.Reader, maxPDU uint32) error {
	maxData := pdu.MaxPDVData(maxPDU)
	if maxData <= 0 {
		return fmt.Errorf("%w: %d", ErrPDUTooSmall, maxPDU)
	}
	c := *cmd
	c.HasDataSet = data != nil

	bp := getBuf(maxData)
	defer fragBufs.Put(bp)
	buf := (*bp)[:maxData]

	pdvs := make([]pdu.PDV, 1)
	send := func(p pdu.PDV) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		pdvs[0] = p
		err := w.SendPData(ctx, pdvs)
		pdvs[0] = pdu.PDV{}
		return err
	}

	// Command set: it is small, encode it into the fragment buffer when it
	// fits (the usual case).
	enc := c.AppendEncode(buf[:0])
	for off := 0; ; {
		n := min(maxData, len(enc)-off)
		last := off+n == len(enc)
		if err := send(pdu.PDV{ContextID: contextID, Command: true, Last: last, Data: enc[off : off+n]}); err != nil {
			if off == 0 {
				return fmt.Errorf("dimse: sending %s command: %w", c.CommandField, err)
			}
			return fmt.Errorf("%w: sending %s command: %w", ErrMessageIncomplete, c.CommandField, err)
		}
		off += n
		if last {
			break
		}
	}
	if data == nil {
		return nil
	}

	// Data set: fill the buffer; when full, peek one byte to learn whether
	// this fragment is the last, and carry that byte into the next one.
	var peek [1]byte
	carried := 0
	var sent int64
	for {
		n, err := io.ReadFull(data, buf[carried:])
		n += carried
		carried = 0
		last := false
		switch {
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			last = true
		case err != nil:
			return fmt.Errorf("%w: reading %s data set after %d bytes: %w", ErrMessageIncomplete, c.CommandField, sent, err)
		default:
			m, perr := io.ReadFull(data, peek[:])
			switch {
			case m == 1:
				carried = 1
			case perr == io.EOF:
				last = true
			default:
				return fmt.Errorf("%w: reading %s data set after %d bytes: %w", ErrMessageIncomplete, c.CommandField, sent, perr)
			}
		}
		if err := send(pdu.PDV{ContextID: contextID, Last: last, Data: buf[:n]}); err != nil {
			return fmt.Errorf("%w: sending %s data set after %d bytes: %w", ErrMessageIncomplete, c.CommandField, sent, err)
		}
		sent += int64(n)
		if last {
			return nil
		}
		buf[0] = peek[0]
	}
}

// getBuf returns a pooled buffer of at least n bytes.
func getBuf(n int) *[]byte {
	if bp, ok := fragBufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return bp
	}
	b := make([]byte, n)
	return &b
}
