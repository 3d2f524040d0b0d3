package node

import (
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

// Log field names.
const (
	FieldAssoc     = "assoc"      // association ID, unique per server
	FieldCallingAE = "calling_ae" // Calling AE Title, quoted (peer-controlled)
	FieldCalledAE  = "called_ae"
	FieldRemote    = "remote"
	FieldContexts  = "contexts" // accepted presentation contexts
	FieldOps       = "ops"      // DIMSE requests served
	FieldBytes     = "bytes"    // data set bytes received in requests
	FieldDuration  = "duration"
	FieldEnd       = "end" // released or aborted
	FieldCommand   = "command"
	FieldStatus    = "status"
)

// LogObserver is a dimse.Observer that logs one info line per association
// when it ends (calling AE, address, accepted contexts, operations, bytes,
// duration, how it ended) and one warn line per rejection or failed request
// with its reason. No patient data is logged at info or warn: AE titles are
// quoted, SOP Instance UIDs appear at debug level only. Safe for concurrent
// use.
type LogObserver struct {
	dimse.NopObserver
	log zerolog.Logger

	mu    sync.Mutex
	stats map[uint64]*assocStats
}

type assocStats struct {
	start    time.Time
	contexts int
	ops      int
	bytes    int64
}

// NewLogObserver returns a LogObserver writing to log.
func NewLogObserver(log zerolog.Logger) *LogObserver {
	return &LogObserver{log: log, stats: map[uint64]*assocStats{}}
}

func quoteAE(s string) string { return strconv.Quote(s) }

func (o *LogObserver) assocEvent(e *zerolog.Event, info *dimse.AssociationInfo) *zerolog.Event {
	e = e.Uint64(FieldAssoc, info.ID).Str(FieldCallingAE, quoteAE(info.CallingAETitle))
	if info.RemoteAddr != nil {
		e = e.Str(FieldRemote, info.RemoteAddr.String())
	}
	return e
}

// AssociationAccepted starts the association's counters.
func (o *LogObserver) AssociationAccepted(info *dimse.AssociationInfo, contexts []ul.Context) {
	o.mu.Lock()
	o.stats[info.ID] = &assocStats{start: time.Now(), contexts: len(contexts)}
	o.mu.Unlock()
}

// AssociationRejected logs the rejection and its reason.
func (o *LogObserver) AssociationRejected(info *dimse.AssociationInfo, rj *pdu.AssociateRJ, why error) {
	e := o.assocEvent(o.log.Warn(), info).Str(FieldCalledAE, quoteAE(info.CalledAETitle))
	if rj != nil {
		e = e.Int("result", int(rj.Result)).Int("source", int(rj.Source)).Int("reason", int(rj.Reason))
	}
	e.Err(why).Msg("association rejected")
}

// AssociationReleased logs the association's summary line.
func (o *LogObserver) AssociationReleased(info *dimse.AssociationInfo) {
	o.end(info, "released", nil, nil)
}

// AssociationAborted logs the association's summary line with the cause.
func (o *LogObserver) AssociationAborted(info *dimse.AssociationInfo, ab *pdu.Abort, why error) {
	o.end(info, "aborted", ab, why)
}

func (o *LogObserver) end(info *dimse.AssociationInfo, how string, ab *pdu.Abort, why error) {
	o.mu.Lock()
	st := o.stats[info.ID]
	delete(o.stats, info.ID)
	o.mu.Unlock()
	if st == nil {
		// Never established (a connection closed during negotiation).
		if why != nil {
			o.assocEvent(o.log.Debug(), info).Err(why).Msg("connection closed before association")
		}
		return
	}
	e := o.log.Info()
	if how == "aborted" {
		e = o.log.Warn()
	}
	e = o.assocEvent(e, info).Int(FieldContexts, st.contexts).Int(FieldOps, st.ops).
		Int64(FieldBytes, st.bytes).Dur(FieldDuration, time.Since(st.start)).Str(FieldEnd, how)
	if ab != nil {
		e = e.Int("abort_source", int(ab.Source)).Int("abort_reason", int(ab.Reason))
	}
	e.Err(why).Msg("association ended")
}

// RequestDone counts the request and logs a failed one with its reason.
func (o *LogObserver) RequestDone(info *dimse.AssociationInfo, cmd *dimse.Command, status dimse.Status, n int64, d time.Duration, err error) {
	o.mu.Lock()
	if st := o.stats[info.ID]; st != nil {
		st.ops++
		st.bytes += max(n, 0)
	}
	o.mu.Unlock()
	if status.Type() == dimse.StatusTypeFailure {
		o.assocEvent(o.log.Warn(), info).Str(FieldCommand, cmd.CommandField.String()).
			Str(FieldStatus, "0x"+strconv.FormatUint(uint64(status), 16)+" "+status.Meaning(cmd.CommandField)).
			Dur(FieldDuration, d).Err(err).Msg("request failed")
	}
	if e := o.log.Debug(); e.Enabled() {
		o.assocEvent(e, info).Str(FieldCommand, cmd.CommandField.String()).
			Str("sop_instance_uid", cmd.AffectedSOPInstanceUID).Uint16(FieldStatus, uint16(status)).Msg("request done")
	}
}
