// Package ul implements the DICOM Upper Layer protocol of PS3.8 §9: the
// association state machine (§9.2), the ARTIM timer (§9.1.5) and
// association negotiation (PS3.8 §7.1, PS3.7 Annex D), on top of the PDU
// codec in dimse/pdu. It knows nothing of DIMSE messages: it moves PDVs.
//
// # The state machine as data
//
// [State], [Event] and [Action] are the standard's Sta1–Sta13, Evt1–Evt19
// and AE-1…AA-8; their String methods print those labels. The transition
// table in state.go is one array literal laid out like PS3.8 Table 9-10 (one
// row per event, one entry per state). An undefined cell never panics: the
// machine takes AA-8 (A-ABORT, service-provider source, reason
// unexpected-PDU for a peer's PDU, not-specified for a local primitive) and
// reports the cell through [Observer.Transition] with Undefined set.
//
// # Goroutines
//
// While [Accept] or [Request] runs, the calling goroutine owns the machine;
// once the association is established a goroutine of its own does. The owner
// selects over the PDUs handed over by a reader goroutine, local requests
// (SendPData, Release, Abort), the ARTIM and idle timers, and contexts. At
// most one received P-DATA-TF waits for [Association.ReadPData]; until it
// is taken no further PDU is read (back-pressure instead of a queue).
// PDU bodies are read into buffers of a shared pool (pdu.PooledReader):
// [Association.ReadPDataBuffer] lends them to the caller until it releases
// them, [Association.ReadPData] gives them away.
// [Association.Done] is closed only after both goroutines have exited and
// the transport is closed.
//
// # Choices where PS3.8 leaves room
//
//   - The transport is connected by the caller: Accept starts at Evt5 (AE-5)
//     and Request at Evt1/Evt2 (AE-1 is a no-op, AE-2 sends the request).
//   - A-RELEASE and A-ASSOCIATE responses are issued by this package: a
//     peer's A-RELEASE-RQ is answered at once (AR-2 then Evt14/AR-4), a
//     release collision likewise (AR-9 / AR-4), and the acceptor's decision
//     (Evt7/Evt8) comes from [AcceptConfig].
//   - AE-6's "acceptable to the service-provider" test is the protocol
//     version (RJ 1,2,2); the rest (application context RJ 1,1,2, called AE
//     RJ 1,1,7, the decision hook, the peer's Maximum Length floor RJ 1,1,1)
//     is the local user's answer in Sta3.
//   - AA-1 is labelled "service-user source" in PS3.8, but when it answers a
//     peer's PDU in Sta2 we send source service-provider with the reason
//     (2,2) unexpected-PDU, (2,1) unrecognized or (2,6) invalid, as DCMTK
//     does and as the project's adversarial tests require. A local Abort
//     sends (0,0), or (2,reason) when the caller gives a reason.
//   - Timers beyond ARTIM in Sta2/Sta13: the requestor's wait in Sta5 is
//     bounded by the ARTIM timeout, an established association by the idle
//     timeout (no PDU sent or received: A-ABORT (2,0)), and each PDU write
//     by the write timeout. These expiries, and a cancelled context, are a
//     local A-ABORT request (Evt15) outside Sta2/Sta13 and Evt18 inside.
//   - After an invalid PDU the byte stream cannot be resynchronised: the
//     reader discards the rest until the peer closes or ARTIM expires, so
//     the peer still reads our A-ABORT instead of a TCP reset.
//   - A PDV naming a presentation context that was not accepted is an
//     invalid PDU: A-ABORT (2,6).
package ul
