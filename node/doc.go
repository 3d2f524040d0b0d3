// Package node is the DICOM face of shardpacs: the DIMSE service handlers
// (C-STORE, C-FIND, C-MOVE, C-GET; C-ECHO through dimse.Server's Echo hook) on
// top of the secure archive, with the calling-AE policy of the
// configuration. [New] builds a ready [dimse.Server]; cmd/shardpacs serve
// runs it.
//
// # Association policy (PS3.8 9.3.4)
//
//   - DICOM TLS (PS3.15 B.1, [Node.ServeTLS]): the handshake (node/tlsconf
//     profile, client certificate verified against tls.ca_file) happens
//     before the A-ASSOCIATE-RQ; then, first of all, the client certificate
//     must be bound to the Calling AE Title (tlsconf.CheckAEBinding: the
//     certificate names the AE, or matches the peer's cert_subject /
//     cert_sha256), else RJ (1,1,3).
//   - Called AE Title: must be config AETitle unless AcceptAnyCalledAE
//     (dimse.Server answers A-ASSOCIATE-RJ 1,1,7).
//   - Calling AE Title not in Peers: accepted with every permission under
//     unknown_calling_ae = "accept", rejected with RJ (1,1,3) under "reject".
//   - A known peer calling from an address outside its Networks: RJ (1,1,3).
//   - A known peer none of whose proposed presentation contexts is for a
//     service it holds a permission for: RJ (1,1,1).
//   - Limits (global and per calling AE) are the Server's: RJ (2,3,2).
//
// # Permissions
//
// A request for a service the caller holds no permission for (echo, store,
// find, move, get) is answered 0x0124 "Refused: Not authorized" with an
// Error Comment; its presentation context stays accepted (the decision is
// per request, so one association may mix permitted and refused services).
// C-ECHO is refused through dimse.Server's Echo hook.
//
// # Audit trail (PS3.15 A.5)
//
// With Options.Audit, the node writes (see package audit for the format):
//
//   - Security Alerts: every association rejection with its reason
//     (Node Authentication, outcome 4); a failed TLS handshake or a
//     certificate not bound to the Calling AE (Node Authentication); an
//     established association ended by A-ABORT or a transport failure, or
//     a protocol violation before association (local type Association
//     Aborted); every 0x0124 refusal and every C-MOVE to an unknown or
//     forbidden destination (Use of Restricted Function).
//   - DICOM Instances Transferred: C-STORE aggregated per association and
//     study (action C; R for an identical resend), written when the
//     association ends or a store of another study arrives — so an event
//     of a live association may lag, and a crash loses the pending
//     batches; C-MOVE and C-GET one event per study per operation (action
//     R, minor failure when some sub-operations failed, serious when none
//     of the study went out).
//   - Query: every decoded C-FIND, with its non-empty keys by keyword
//     (patient data: they belong in the audit trail, never in the
//     operational log) and its outcome.
//   - Integrity: every bad share the archive finds (missing, size or
//     SHA-256 differing from the index, failed authentication, malformed
//     header), on a read served from the other shares, in the background
//     repairer or in Verify, is a Stored Data Integrity Failure alert
//     naming the store, the share object and the SOP Instance UID, outcome
//     serious failure (archive.Archive.ObserveIntegrity); an instance that
//     cannot be read for a retrieval (fewer than k good shares) is one
//     more, outcome major failure.
//
// A failed audit write is an error in the operational log; the request
// goes on. The node never writes patient data to the operational log.
//
// # Statuses (see also dimse's table of implementation codes)
//
// C-STORE (PS3.4 B.2.3):
//
//	0x0000  stored, or an identical instance was already stored
//	0x0124  caller has no "store" permission
//	0xA700  out of resources: write quorum not met, disk full, a size limit
//	0xA900  SOP class/instance UID of the command differs from the data set
//	0xC001  data set cannot be parsed (malformed, truncated, bad transfer syntax)
//	0xC002  sequences nested deeper than limits.max_sequence_depth
//	0xC003  a required UID is missing or invalid (SOP class/instance, study, series)
//	0xC010  SOP Instance UID already stored with different content (keep-first)
//	0xC0FF  internal error; the cause is only in the log
//
// C-FIND (PS3.4 C.4.1.1.4): 0xA700 more matches than limits.max_find_results
// (never a truncated list); 0xA900 identifier does not match the model (a
// level the model lacks, a matching key below the level); 0xC000 missing or
// unknown QueryRetrieveLevel (Offending Element (0008,0052)) or another
// invalid key; 0xC001 identifier cannot be parsed; 0xC002 identifier nested
// deeper than limits.max_sequence_depth; 0xA700 query not done within
// limits.operation_timeout; 0xFE00 after C-CANCEL.
//
// C-MOVE / C-GET (PS3.4 C.4.2.1.5, C.4.3.1.4): 0xA801 destination unknown
// or not permitted for the caller (no connection is attempted); 0xA702
// no sub-operation could be performed (destination unreachable or refusing,
// every instance unreadable); 0xB000 with Failed SOP Instance UID List
// (0008,0058) when some failed; 0xFE00 after C-CANCEL, with the counts.
//
// # Transfer syntaxes of sub-operations
//
// Native syntaxes are converted; encapsulated ones are sent as stored. An
// instance is sent in the transfer syntax it was received in, byte for
// byte, whenever the peer accepted a context for its SOP class in that
// syntax. Otherwise, when the stored syntax is native (Implicit VR LE,
// Explicit VR LE, Explicit VR BE: PS3.5 A.1-A.3) and the peer accepted
// another native one, the data set is converted on the fly with
// dcm.Transcode (validated first with dcm.TranscodedSize, then streamed
// through a pipe: memory stays bounded), preferring Explicit VR LE, then
// Implicit VR LE, then Explicit VR BE. Encapsulated (compressed) and
// deflated data are never converted: without a context in their own
// syntax the sub-operation fails, with a log line saying so. C-MOVE
// proposes, per SOP class, every stored transfer syntax and, for native
// data, the other native syntaxes, so the association is usable for all;
// for C-GET the requestor's accepted contexts with the SCP role decide
// (dimse.GetResponder.TransferSyntaxes).
package node
