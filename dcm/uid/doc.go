// Package uid is the DICOM UID registry shardpacs needs: every transfer
// syntax a peer may propose (PS3.5 Section 10 and Annex A), every Storage SOP
// Class (PS3.4 Table B.5-1, plus the retired ones of earlier editions), the
// few service SOP Classes the archive implements, and a UID → name table
// covering PS3.6 Table A-1 for log messages.
//
// The tables are generated (zz_generated.go) by gen.go from the registry as
// published in pydicom's _uid_dict.py, itself generated from PS3.6 Table A-1;
// entries newer than that file come from a supplement table inside gen.go.
// Regenerate with `go generate ./dcm/uid` after updating either.
//
// All exported tables are read-only: callers must not modify them. Every
// function is safe for concurrent use.
package uid

//go:generate go run gen.go
