package dimse

import (
	"context"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// PDataReader yields the presentation data values of successive P-DATA-TF
// PDUs (PS3.8 §9.3.5) of one association; an *ul.Association implements
// it. The returned PDVs, and their Data, must stay valid and unmodified
// until the next call.
type PDataReader interface {
	ReadPData(ctx context.Context) ([]pdu.PDV, error)
}

// PDataWriter sends presentation data values in one P-DATA-TF PDU (PS3.8
// §9.3.5); an *ul.Association implements it. SendPData must not keep pdvs or
// their Data after it returns: WriteMessage reuses the buffers.
type PDataWriter interface {
	SendPData(ctx context.Context, pdvs []pdu.PDV) error
}

// Message is one DIMSE message (PS3.7 §6.3): a command set and, when the
// command announces one, a data set, both received on presentation context
// ContextID.
type Message struct {
	ContextID uint8
	Command   *Command
	Data      *DataSet // nil when Command.HasDataSet is false (or the data set was refused)
}

// Close releases the data set (removing its spool file, if any). It is
// idempotent and safe on a nil Message.
func (m *Message) Close() error {
	if m == nil {
		return nil
	}
	return m.Data.Close()
}
