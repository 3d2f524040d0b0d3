// Package dimse implements the DICOM Message Service Element (PS3.7): the
// command-set codec (PS3.7 §6.3, §9.3, Annex E), DIMSE statuses (PS3.7
// Annex C, PS3.4), and the assembly of P-DATA value fragments into messages
// and back (PS3.7 §6.3.1, PS3.8 §9.3.5.1 and Annex E).
//
// # Layering
//
// Three packages, each the image of one part of the standard, arrows
// pointing down:
//
//	dimse      messages: Command, Status, MessageReader/WriteMessage (PS3.7)
//	  |        (later: Server and Client, one handler per DIMSE service)
//	dimse/ul   upper layer: association state machine, ARTIM (PS3.8 §9)
//	  |
//	dimse/pdu  PDU wire codec, no I/O policy (PS3.8 §9.3)
//
// This package depends on dimse/pdu for the PDV type and abort reasons only.
// The message layer reads and writes presentation data values through the
// small [PDataReader] and [PDataWriter] interfaces, which an
// *ul.Association satisfies and which tests fake with a slice. A reader that
// also implements [PDataBufferReader] (as *ul.Association does) lends its
// pooled PDU buffers: a received data set then keeps its fragments where
// they arrived ([DataSet] over chunks), without copying them, and gives the
// buffers back on Close.
//
// # Conventions
//
// Codecs never log and never panic on hostile input; every declared length is
// checked against the bytes actually present before anything is allocated.
// Protocol codes ([Status], [CommandField]) are typed values; a [Status] that
// is not a success is an error. Errors are package-prefixed ("dimse: ...")
// and wrap the sentinels declared in errors.go, so callers test them with
// [errors.Is] and [errors.As].
package dimse
