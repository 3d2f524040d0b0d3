package ul

import (
	"net"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// Direction tells whether a PDU was received from or sent to the peer.
type Direction uint8

// PDU directions.
const (
	Received Direction = iota + 1
	Sent
)

func (d Direction) String() string {
	switch d {
	case Received:
		return "received"
	case Sent:
		return "sent"
	}
	return "direction?"
}

// Transition is one step of the state machine: in state From, Event caused
// Action, leading to state To (PS3.8 Table 9-10). Undefined is true when
// the table has no entry for (From, Event); Action is then the AA-8 the
// machine took instead.
type Transition struct {
	From      State
	Event     Event
	Action    Action
	To        State
	Undefined bool
}

// Observer holds optional observe-only hooks (logging, metrics, audit). The
// zero value observes nothing; any nil field is skipped.
//
// Hooks run synchronously on the goroutine that owns the association's
// state machine: they must return quickly, must not block, and must not call
// methods of the Association. They never change what the machine does.
// No hook receives P-DATA contents; AE titles arrive unescaped (peer
// controlled), so loggers must escape them.
type Observer struct {
	// PDU is called for every complete PDU read or written. length counts
	// the whole PDU including its 6-byte header.
	PDU func(remote net.Addr, dir Direction, t pdu.Type, length int)
	// Transition is called after every state transition.
	Transition func(remote net.Addr, t Transition)
	// Abort is called when an A-ABORT is sent (dir Sent: why is the cause)
	// or received (dir Received: why is nil).
	Abort func(remote net.Addr, dir Direction, ab *pdu.Abort, why error)
	// Rejected is called when an A-ASSOCIATE-RJ is sent (why: the check that
	// failed, or the decision hook's verdict) or received (why nil).
	Rejected func(remote net.Addr, dir Direction, rj *pdu.AssociateRJ, why error)
	// Established is called when the association enters Sta6.
	Established func(a *Association)
	// Closed is called once, when an established association reaches Sta1,
	// before Done is closed; err is nil after an orderly release.
	Closed func(a *Association, err error)
}

func (o *Observer) pdu(remote net.Addr, dir Direction, t pdu.Type, n int) {
	if o.PDU != nil {
		o.PDU(remote, dir, t, n)
	}
}

func (o *Observer) transition(remote net.Addr, t Transition) {
	if o.Transition != nil {
		o.Transition(remote, t)
	}
}

func (o *Observer) abort(remote net.Addr, dir Direction, ab *pdu.Abort, why error) {
	if o.Abort != nil {
		o.Abort(remote, dir, ab, why)
	}
}

func (o *Observer) rejected(remote net.Addr, dir Direction, rj *pdu.AssociateRJ, why error) {
	if o.Rejected != nil {
		o.Rejected(remote, dir, rj, why)
	}
}

func (o *Observer) established(a *Association) {
	if o.Established != nil {
		o.Established(a)
	}
}

func (o *Observer) closed(a *Association, err error) {
	if o.Closed != nil {
		o.Closed(a, err)
	}
}
