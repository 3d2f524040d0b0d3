// Package loadgen drives a running DICOM node the way issue 5's load test
// needs: legitimate C-STORE load from many concurrent associations
// ([StoreLoad]), a flood of hostile or broken peers at the same time
// ([Flood]: idle and trickling sockets, malformed PDUs, associations past
// the per-AE limit), the check that every acknowledged instance can be
// read back byte for byte ([Verify]), and the memory and descriptor
// figures of the server process read from /proc ([Sampler]).
//
// It is test tooling: it talks to the node only over the network (PS3.8
// upper layer, PS3.7 DIMSE) and knows nothing of its internals. Nothing in
// it logs; everything it saw is returned in plain report structs whose
// String methods give the lines a test prints.
package loadgen
