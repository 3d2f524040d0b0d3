// Package dcm reads DICOM data sets for the archive and the query service:
// tags and the data dictionary (PS3.6), Part 10 file headers (PS3.10 §7.1),
// a validating streaming scanner that extracts the index attributes
// (PS3.5 §7), Specific Character Set decoding to UTF-8 (PS3.5 §6.1,
// PS3.3 C.12.1.1.2), UID validation (PS3.5 §9.1) and the C-FIND identifier
// codec (PS3.4 C.4.1.1.3).
//
// Errors for bad input are *FormatError (errors.Is ErrFormat: a C-STORE
// 0xC000-range failure at the DIMSE boundary) or *LimitError (errors.Is
// ErrLimit: 0xA700). Nothing here logs, and nothing panics on hostile input:
// every declared length is checked against the bytes left and the Limits
// before anything is allocated or skipped. All functions are safe for
// concurrent use.
//
// Where the DICOM libraries fit: github.com/suyashkumar/dicom v1.1.0
// supplies the data dictionary (DictionaryVR, Tag.Keyword) and, in the
// tests, is the independent parser that cross-checks Scan's attributes on
// every corpus file (pydicom is the oracle for character sets). The scanner
// itself is ours: both suyashkumar/dicom and grailbio/go-dicom parse whole
// data sets into memory and enforce neither a nesting depth nor length or
// inflate caps, which the adversarial tests require. grailbio/go-dicom's
// character-set support is not used: it covers fewer terms than
// golang.org/x/text, whose code sets we combine with our own ISO 2022
// escape handling (iso2022.go).
package dcm
