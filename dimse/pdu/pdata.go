package pdu

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Message control header bits of a PDV (PS3.8 E.2). The other six bits are
// reserved: sent as 0, not tested on decode.
const (
	pdvCommand = 0x01
	pdvLast    = 0x02
)

// decodePDataTF decodes the PDV items of a P-DATA-TF (PS3.8 9.3.5). A first
// pass validates every item length and counts the items against the limit,
// so the slice is allocated once at its exact size. PDV data is not copied.
func decodePDataTF(body []byte, lim Limits) (*PDataTF, error) {
	maxPDVs := lim.maxPDVs()
	n := 0
	for rest := body; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, malformed(fmt.Sprintf("P-DATA-TF: %d trailing bytes cannot hold a PDV item header", len(rest)))
		}
		l := binary.BigEndian.Uint32(rest)
		if l < 2 {
			return nil, malformed(fmt.Sprintf("P-DATA-TF: PDV item length %d is below 2", l))
		}
		if uint64(l) > uint64(len(rest)-4) {
			return nil, malformed(fmt.Sprintf("P-DATA-TF: PDV item declares %d bytes but %d remain", l, len(rest)-4))
		}
		if n++; n > maxPDVs {
			return nil, tooLong(fmt.Sprintf("P-DATA-TF: more than %d PDV items", maxPDVs))
		}
		rest = rest[4+int(l):]
	}
	if n == 0 {
		return nil, malformed("P-DATA-TF: no PDV item")
	}
	items := make([]PDV, n)
	off := 0
	for i := range items {
		end := off + 4 + int(binary.BigEndian.Uint32(body[off:]))
		ctl := body[off+5]
		items[i] = PDV{
			ContextID: body[off+4],
			Command:   ctl&pdvCommand != 0,
			Last:      ctl&pdvLast != 0,
			Data:      bytesOrNil(body[off+6 : end : end]),
		}
		off = end
	}
	return &PDataTF{Items: items}, nil
}

// pdataBodyLen returns the PDU-length of p, or an error when it has no PDV
// or does not fit the 4-byte length fields.
func pdataBodyLen(p *PDataTF) (int, error) {
	if len(p.Items) == 0 {
		return 0, fmt.Errorf("pdu: P-DATA-TF without a PDV item: %w", ErrInvalid)
	}
	total := 0
	for i := range p.Items {
		d := len(p.Items[i].Data)
		if uint64(d) > math.MaxUint32-2 {
			return 0, fmt.Errorf("pdu: PDV of %d bytes: %w", d, ErrInvalid)
		}
		total += 6 + d
		if uint64(total) > math.MaxUint32 {
			return 0, fmt.Errorf("pdu: P-DATA-TF of more than 4 GiB: %w", ErrInvalid)
		}
	}
	return total, nil
}

// appendPDataTF appends the PDV items of p; pdataBodyLen validated it.
func appendPDataTF(dst []byte, p *PDataTF) []byte {
	for i := range p.Items {
		v := &p.Items[i]
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Data)+2))
		var ctl byte
		if v.Command {
			ctl |= pdvCommand
		}
		if v.Last {
			ctl |= pdvLast
		}
		dst = append(dst, v.ContextID, ctl)
		dst = append(dst, v.Data...)
	}
	return dst
}
