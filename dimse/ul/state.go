package ul

import "strconv"

// State is a state of the DICOM Upper Layer protocol machine (PS3.8 9.2.1,
// Table 9-1). Its String is the standard's label, "Sta1" to "Sta13".
type State uint8

// The thirteen states of PS3.8 Table 9-1.
const (
	Sta1      State = iota + 1 // Idle
	Sta2                       // Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
	Sta3                       // Awaiting local A-ASSOCIATE response primitive
	Sta4                       // Awaiting transport connection opening to complete
	Sta5                       // Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU
	Sta6                       // Association established and ready for data transfer
	Sta7                       // Awaiting A-RELEASE-RP PDU
	Sta8                       // Awaiting local A-RELEASE response primitive
	Sta9                       // Release collision requestor side; awaiting A-RELEASE response primitive
	Sta10                      // Release collision acceptor side; awaiting A-RELEASE-RP PDU
	Sta11                      // Release collision requestor side; awaiting A-RELEASE-RP PDU
	Sta12                      // Release collision acceptor side; awaiting A-RELEASE response primitive
	Sta13                      // Awaiting transport connection close indication
	numStates = int(Sta13)
)

func (s State) String() string {
	if s >= Sta1 && s <= Sta13 {
		return "Sta" + strconv.Itoa(int(s))
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Event is an event of the DICOM Upper Layer protocol machine (PS3.8 9.2.2,
// Table 9-2). Its String is the standard's label, "Evt1" to "Evt19".
type Event uint8

// The nineteen events of PS3.8 Table 9-2.
const (
	Evt1      Event = iota + 1 // A-ASSOCIATE request (local user)
	Evt2                       // Transport connect confirmation (local transport service)
	Evt3                       // A-ASSOCIATE-AC PDU (received on transport connection)
	Evt4                       // A-ASSOCIATE-RJ PDU (received on transport connection)
	Evt5                       // Transport connection indication (local transport service)
	Evt6                       // A-ASSOCIATE-RQ PDU (received on transport connection)
	Evt7                       // A-ASSOCIATE response primitive (accept)
	Evt8                       // A-ASSOCIATE response primitive (reject)
	Evt9                       // P-DATA request primitive
	Evt10                      // P-DATA-TF PDU
	Evt11                      // A-RELEASE request primitive
	Evt12                      // A-RELEASE-RQ PDU (received on open transport connection)
	Evt13                      // A-RELEASE-RP PDU (received on transport connection)
	Evt14                      // A-RELEASE response primitive
	Evt15                      // A-ABORT request primitive
	Evt16                      // A-ABORT PDU (received on open transport connection)
	Evt17                      // Transport connection closed indication (local transport service)
	Evt18                      // ARTIM timer expired (Association reject/release timer)
	Evt19                      // Unrecognized or invalid PDU received
	numEvents = int(Evt19)
)

func (e Event) String() string {
	if e >= Evt1 && e <= Evt19 {
		return "Evt" + strconv.Itoa(int(e))
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

// FromPeer reports whether the event is caused by the remote peer (a PDU or
// the transport closing) rather than by the local user or a timer.
func (e Event) FromPeer() bool {
	switch e {
	case Evt3, Evt4, Evt6, Evt10, Evt12, Evt13, Evt16, Evt17, Evt19:
		return true
	}
	return false
}

// Action is an action of the DICOM Upper Layer protocol machine (PS3.8 9.2.2,
// Tables 9-6 to 9-9). Its String is the standard's label ("AE-1", "DT-2",
// "AR-10", "AA-8"). The zero Action marks an undefined table cell.
type Action uint8

// The actions of PS3.8 Tables 9-6 (association establishment), 9-7 (data
// transfer), 9-8 (association release) and 9-9 (association abort).
const (
	noAction   Action = iota
	AE1               // Issue TRANSPORT CONNECT request primitive to local transport service -> Sta4
	AE2               // Send A-ASSOCIATE-RQ PDU -> Sta5
	AE3               // Issue A-ASSOCIATE confirmation (accept) primitive -> Sta6
	AE4               // Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection -> Sta1
	AE5               // Issue Transport connection response primitive; start ARTIM timer -> Sta2
	AE6               // Stop ARTIM timer and if A-ASSOCIATE-RQ acceptable: issue A-ASSOCIATE indication -> Sta3; otherwise send A-ASSOCIATE-RJ PDU, start ARTIM -> Sta13
	AE7               // Send A-ASSOCIATE-AC PDU -> Sta6
	AE8               // Send A-ASSOCIATE-RJ PDU and start ARTIM timer -> Sta13
	DT1               // Send P-DATA-TF PDU -> Sta6
	DT2               // Send P-DATA indication primitive -> Sta6
	AR1               // Send A-RELEASE-RQ PDU -> Sta7
	AR2               // Issue A-RELEASE indication primitive -> Sta8
	AR3               // Issue A-RELEASE confirmation primitive, and close transport connection -> Sta1
	AR4               // Issue A-RELEASE-RP PDU and start ARTIM timer -> Sta13
	AR5               // Stop ARTIM timer -> Sta1
	AR6               // Issue P-DATA indication -> Sta7
	AR7               // Issue P-DATA-TF PDU -> Sta8
	AR8               // Issue A-RELEASE indication (release collision): requestor -> Sta9, acceptor -> Sta10
	AR9               // Send A-RELEASE-RP PDU -> Sta11
	AR10              // Issue A-RELEASE confirmation primitive -> Sta12
	AA1               // Send A-ABORT PDU, start (or restart) ARTIM timer -> Sta13
	AA2               // Stop ARTIM timer if running. Close transport connection -> Sta1
	AA3               // Issue A-ABORT or A-P-ABORT indication and close transport connection -> Sta1
	AA4               // Issue A-P-ABORT indication primitive -> Sta1
	AA5               // Stop ARTIM timer -> Sta1
	AA6               // Ignore PDU -> Sta13
	AA7               // Send A-ABORT PDU -> Sta13
	AA8               // Send A-ABORT PDU (service-provider source), issue A-P-ABORT indication, start ARTIM timer -> Sta13
	numActions = int(AA8)
)

func (a Action) String() string {
	switch {
	case a >= AE1 && a <= AE8:
		return "AE-" + strconv.Itoa(int(a-AE1)+1)
	case a >= DT1 && a <= DT2:
		return "DT-" + strconv.Itoa(int(a-DT1)+1)
	case a >= AR1 && a <= AR10:
		return "AR-" + strconv.Itoa(int(a-AR1)+1)
	case a >= AA1 && a <= AA8:
		return "AA-" + strconv.Itoa(int(a-AA1)+1)
	case a == noAction:
		return "undefined"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// NextStates returns the state(s) an action leads to (PS3.8 Tables 9-6 to
// 9-9). Two actions branch: AE-6 (Sta3 when the request is acceptable to the
// provider, else Sta13) and AR-8 (Sta9 for the association-requestor, else
// Sta10); every other action has exactly one next state.
func (a Action) NextStates() []State {
	switch a {
	case AE6:
		return []State{Sta3, Sta13}
	case AR8:
		return []State{Sta9, Sta10}
	}
	if int(a) < len(nextState) && nextState[a] != 0 {
		return []State{nextState[a]}
	}
	return nil
}

// nextState is the single next state of every non-branching action.
var nextState = [...]State{
	AE1: Sta4, AE2: Sta5, AE3: Sta6, AE4: Sta1, AE5: Sta2, AE7: Sta6, AE8: Sta13,
	DT1: Sta6, DT2: Sta6,
	AR1: Sta7, AR2: Sta8, AR3: Sta1, AR4: Sta13, AR5: Sta1, AR6: Sta7, AR7: Sta8, AR9: Sta11, AR10: Sta12,
	AA1: Sta13, AA2: Sta1, AA3: Sta1, AA4: Sta1, AA5: Sta1, AA6: Sta13, AA7: Sta13, AA8: Sta13,
}

// row is one line of Table 9-10: the action for each state, indexed by State.
type row [numStates + 1]Action

// transitions is PS3.8 Table 9-10 ("DICOM Upper Layer Protocol State
// Transition Table"), one row per event, one entry per state in which the
// standard defines an action. A missing entry is an undefined cell: the
// machine answers it with AA-8 (see Lookup).
var transitions = [numEvents + 1]row{
	Evt1:  {Sta1: AE1},
	Evt2:  {Sta4: AE2},
	Evt3:  {Sta2: AA1, Sta3: AA8, Sta5: AE3, Sta6: AA8, Sta7: AA8, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA6},
	Evt4:  {Sta2: AA1, Sta3: AA8, Sta5: AE4, Sta6: AA8, Sta7: AA8, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA6},
	Evt5:  {Sta1: AE5},
	Evt6:  {Sta2: AE6, Sta3: AA8, Sta5: AA8, Sta6: AA8, Sta7: AA8, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA7},
	Evt7:  {Sta3: AE7},
	Evt8:  {Sta3: AE8},
	Evt9:  {Sta6: DT1, Sta8: AR7},
	Evt10: {Sta2: AA1, Sta3: AA8, Sta5: AA8, Sta6: DT2, Sta7: AR6, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA6},
	Evt11: {Sta6: AR1},
	Evt12: {Sta2: AA1, Sta3: AA8, Sta5: AA8, Sta6: AR2, Sta7: AR8, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA6},
	Evt13: {Sta2: AA1, Sta3: AA8, Sta5: AA8, Sta6: AA8, Sta7: AR3, Sta8: AA8, Sta9: AA8, Sta10: AR10, Sta11: AR3, Sta12: AA8, Sta13: AA6},
	Evt14: {Sta8: AR4, Sta9: AR9, Sta12: AR4},
	Evt15: {Sta3: AA1, Sta4: AA2, Sta5: AA1, Sta6: AA1, Sta7: AA1, Sta8: AA1, Sta9: AA1, Sta10: AA1, Sta11: AA1, Sta12: AA1},
	Evt16: {Sta2: AA2, Sta3: AA3, Sta5: AA3, Sta6: AA3, Sta7: AA3, Sta8: AA3, Sta9: AA3, Sta10: AA3, Sta11: AA3, Sta12: AA3, Sta13: AA2},
	Evt17: {Sta2: AA5, Sta3: AA4, Sta4: AA4, Sta5: AA4, Sta6: AA4, Sta7: AA4, Sta8: AA4, Sta9: AA4, Sta10: AA4, Sta11: AA4, Sta12: AA4, Sta13: AR5},
	Evt18: {Sta2: AA2, Sta13: AA2},
	Evt19: {Sta2: AA1, Sta3: AA8, Sta5: AA8, Sta6: AA8, Sta7: AA8, Sta8: AA8, Sta9: AA8, Sta10: AA8, Sta11: AA8, Sta12: AA8, Sta13: AA7},
}

// Lookup returns the action PS3.8 Table 9-10 assigns to event e in state s,
// and whether the cell is defined. For an undefined cell (or an out-of-range
// state or event) it returns AA-8 and false: the machine never panics on
// an unexpected event, it aborts the association (service-provider source)
// and reports the cell to the Observer.
func Lookup(s State, e Event) (Action, bool) {
	if s < Sta1 || s > Sta13 || e < Evt1 || e > Evt19 {
		return AA8, false
	}
	if a := transitions[e][s]; a != noAction {
		return a, true
	}
	return AA8, false
}
