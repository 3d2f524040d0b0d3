package dimse

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
	studyRootFind  = "1.2.840.10008.5.1.4.1.2.2.1"
	studyRootMove  = "1.2.840.10008.5.1.4.1.2.2.2"
	studyRootGet   = "1.2.840.10008.5.1.4.1.2.2.3"
	someInstance   = "1.2.826.0.1.3680043.2.1125.1.12345678901234567890"
)

// sampleCommands returns one valid command of every kind, with optional
// elements exercised.
func sampleCommands() map[string]*Command {
	store := NewCStoreRQ(7, ctImageStorage, someInstance, PriorityHigh)
	store.MoveOriginatorApplicationEntityTitle = "VIEWER1"
	store.MoveOriginatorMessageID = Uint16(3)

	storeRSP := NewResponse(store, StatusSuccess)
	storeFail := NewResponse(store, 0)
	storeFail.SetError(&StatusError{Status: StatusDataSetDoesNotMatchSOPClass, Comment: "bad (0008,0018)",
		Offending: []Tag{0x00080018, 0x00100010}}, StatusInternalError)
	storeFail.ErrorID = Uint16(42)

	find := NewCFindRQ(9, studyRootFind, PriorityMedium)
	findPending := NewResponse(find, StatusPending)
	findPending.HasDataSet = true
	findDone := NewResponse(find, StatusSuccess)

	move := NewCMoveRQ(11, studyRootMove, "DEST_AE", PriorityLow)
	movePending := NewResponse(move, StatusPending)
	movePending.SetSuboperations(5, 1, 0, 0, true)
	moveDone := NewResponse(move, StatusSubopsCompleteWithFailures)
	moveDone.SetSuboperations(0, 5, 1, 0, false)

	get := NewCGetRQ(13, studyRootGet, PriorityMedium)
	getDone := NewResponse(get, StatusCancel)
	getDone.SetSuboperations(2, 3, 0, 1, true)

	echo := NewCEchoRQ(1)
	extra := NewCEchoRQ(0xFFFF)
	extra.Extra = []Element{{Tag: 0x00000005, Value: []byte{1, 0}}, {Tag: 0x00005010, Value: []byte("AB")}}
	extra.RequestedSOPClassUID = "1.2.3"
	extra.RequestedSOPInstanceUID = "1.2.3.4"

	return map[string]*Command{
		"C-ECHO-RQ": echo, "C-ECHO-RSP": NewResponse(echo, StatusSuccess), "C-ECHO-RQ extra": extra,
		"C-STORE-RQ": store, "C-STORE-RSP": storeRSP, "C-STORE-RSP failure": storeFail,
		"C-FIND-RQ": find, "C-FIND-RSP pending": findPending, "C-FIND-RSP final": findDone,
		"C-MOVE-RQ": move, "C-MOVE-RSP pending": movePending, "C-MOVE-RSP final": moveDone,
		"C-GET-RQ": get, "C-GET-RSP cancel": getDone,
		"C-CANCEL-RQ": NewCCancelRQ(9),
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for name, c := range sampleCommands() {
		t.Run(name, func(t *testing.T) {
			if err := c.Validate(); err != nil {
				t.Fatalf("sample invalid: %v", err)
			}
			b := c.Encode()
			if len(b)%2 != 0 {
				t.Errorf("odd encoding length %d", len(b))
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, hex.Dump(b))
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
			}
			if b2 := got.AppendEncode([]byte("prefix")); !bytes.Equal(b2[6:], b) || string(b2[:6]) != "prefix" {
				t.Errorf("AppendEncode differs from Encode")
			}
		})
	}
}

// TestCommandStrictPrefixes: every strict prefix of a valid encoding fails.
func TestCommandStrictPrefixes(t *testing.T) {
	for name, c := range sampleCommands() {
		b := c.Encode()
		for i := 0; i < len(b); i++ {
			if _, err := DecodeCommand(b[:i]); !errors.Is(err, ErrMalformedCommand) {
				t.Fatalf("%s: prefix of %d/%d bytes: err = %v, want ErrMalformedCommand", name, i, len(b), err)
			}
		}
	}
}

// goldenEchoRQ is a C-ECHO-RQ, Message ID 1, as PS3.7 §9.3.5.1 lays it out
// and as DCMTK echoscu sends it (see TestEchoscuGolden).
//
//	(0000,0000) UL 56                    group length
//	(0000,0002) UI "1.2.840.10008.1.1\0" Affected SOP Class UID (18 bytes)
//	(0000,0100) US 0x0030                C-ECHO-RQ
//	(0000,0110) US 1                     Message ID
//	(0000,0800) US 0x0101                no data set
const goldenEchoRQ = "" +
	"00000000" + "04000000" + "38000000" +
	"00000200" + "12000000" + "312e322e3834302e31303030382e312e3100" +
	"00000001" + "02000000" + "3000" +
	"00001001" + "02000000" + "0100" +
	"00000008" + "02000000" + "0101"

func TestCEchoRQGolden(t *testing.T) {
	want, err := hex.DecodeString(goldenEchoRQ)
	if err != nil {
		t.Fatal(err)
	}
	if got := NewCEchoRQ(1).Encode(); !bytes.Equal(got, want) {
		t.Fatalf("C-ECHO-RQ encoding:\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}
}

func TestEncodePadding(t *testing.T) {
	c := NewCMoveRQ(1, "1.2.3", "AE", PriorityMedium) // odd UID, short AE
	c.ErrorComment = "odd"
	b := c.Encode()
	for _, want := range []string{"1.2.3\x00", "AE              ", "odd "} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("encoding lacks %q", want)
		}
	}
}

func TestEncodeExtraOrdering(t *testing.T) {
	c := NewCEchoRQ(1)
	c.Extra = []Element{
		{Tag: 0x00005020, Value: []byte{9, 9}},
		{Tag: 0x00000001, Value: []byte{1, 2, 3, 4}}, // modelled: ignored
		{Tag: 0x00080018, Value: []byte{1, 1}},       // not group 0: ignored
		{Tag: 0x00000105, Value: []byte{7, 7}},
	}
	if err := c.Validate(); !errors.Is(err, ErrUnexpectedElement) {
		t.Errorf("Validate = %v, want ErrUnexpectedElement", err)
	}
	got, err := DecodeCommand(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	want := []Element{{Tag: 0x00000105, Value: []byte{7, 7}}, {Tag: 0x00005020, Value: []byte{9, 9}}}
	if !reflect.DeepEqual(got.Extra, want) {
		t.Errorf("Extra = %v, want %v", got.Extra, want)
	}
}

// elem builds one Implicit VR LE element.
func elem(tag Tag, v []byte) []byte { return append(appendHeader(nil, tag, len(v)), v...) }

func u16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

// group prefixes elements with a correct group length.
func group(elems ...[]byte) []byte {
	body := bytes.Join(elems, nil)
	n := len(body)
	return append(elem(TagCommandGroupLength, []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}), body...)
}

func TestDecodeCommandErrors(t *testing.T) {
	cf := elem(TagCommandField, u16(0x0030))
	mid := elem(TagMessageID, u16(1))
	dst := elem(TagCommandDataSetType, u16(0x0101))
	ok := group(cf, mid, dst)
	if _, err := DecodeCommand(ok); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	badGL := append([]byte(nil), ok...)
	badGL[8]++
	cases := map[string][]byte{
		"empty":                nil,
		"group length missing": bytes.Join([][]byte{cf, mid, dst}, nil),
		"group length wrong":   badGL,
		"group length len 2":   append(elem(TagCommandGroupLength, []byte{0, 0}), cf...),
		"descending tags":      group(mid, cf, dst),
		"duplicate tag":        group(cf, mid, mid, dst),
		"not group 0000":       group(cf, mid, dst, elem(0x00080018, []byte("12"))),
		"US wrong length":      group(elem(TagCommandField, []byte{0x30, 0, 0, 0}), mid, dst),
		"AT not multiple of 4": group(cf, mid, dst, elem(TagOffendingElement, []byte{1, 2})),
		"element past end":     group(cf, mid, append(appendHeader(nil, TagCommandDataSetType, 100), 1, 1)),
		"undefined length":     group(cf, mid, appendHeader(nil, TagCommandDataSetType, -1)),
		"stray bytes":          group(cf, mid, dst, []byte{0, 0, 0}),
		"no command field":     group(mid, dst),
		"no data set type":     group(cf, mid),
		"no message id":        group(cf, dst),
		"rsp without status": group(elem(TagCommandField, u16(0x8030)),
			elem(TagMessageIDBeingRespondedTo, u16(1)), dst),
		"rsp without responded-to":    group(elem(TagCommandField, u16(0x8030)), dst, elem(TagStatus, u16(0))),
		"cancel without responded-to": group(elem(TagCommandField, u16(0x0FFF)), dst),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := DecodeCommand(b); !errors.Is(err, ErrMalformedCommand) || c != nil {
				t.Errorf("DecodeCommand = %v, %v; want nil, ErrMalformedCommand", c, err)
			} else if !strings.HasPrefix(err.Error(), "dimse: ") {
				t.Errorf("error %q lacks package prefix", err)
			}
		})
	}
}

func TestDecodeCommandLenient(t *testing.T) {
	b := group(
		elem(TagCommandLengthToEnd, []byte{0, 0, 0, 0}),            // retired: dropped
		elem(TagAffectedSOPClassUID, []byte("1.2.840.10008.1.1 ")), // space-padded UID
		elem(TagCommandField, u16(uint16(CStoreRQ))),
		elem(TagMessageID, u16(5)),
		elem(TagMoveDestination, []byte(" DEST ")),
		elem(TagCommandDataSetType, u16(0x0102)), // not 0x0101: present
		elem(TagAffectedSOPInstanceUID, []byte("1.2.3\x00")),
	)
	c, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Command{CommandField: CStoreRQ, MessageID: 5, AffectedSOPClassUID: "1.2.840.10008.1.1",
		MoveDestination: "DEST", HasDataSet: true, AffectedSOPInstanceUID: "1.2.3", Priority: PriorityMedium}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestValidate(t *testing.T) {
	type mod func(c *Command)
	cases := []struct {
		name string
		base *Command
		mod  mod
		tag  Tag
		err  error
	}{
		{"echo no class", NewCEchoRQ(1), func(c *Command) { c.AffectedSOPClassUID = "" }, TagAffectedSOPClassUID, ErrMissingElement},
		{"echo with data", NewCEchoRQ(1), func(c *Command) { c.HasDataSet = true }, TagCommandDataSetType, ErrUnexpectedElement},
		{"store no instance", NewCStoreRQ(1, ctImageStorage, "", 0), nil, TagAffectedSOPInstanceUID, ErrMissingElement},
		{"store no data", NewCStoreRQ(1, ctImageStorage, "1.2", 0), func(c *Command) { c.HasDataSet = false }, TagCommandDataSetType, ErrUnexpectedElement},
		{"store bad priority", NewCStoreRQ(1, ctImageStorage, "1.2", 3), nil, TagPriority, ErrInvalidElement},
		{"uid leading zero", NewCStoreRQ(1, ctImageStorage, "1.02", 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"uid letters", NewCStoreRQ(1, ctImageStorage, "1.2a", 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"uid traversal", NewCStoreRQ(1, ctImageStorage, "../../etc/x", 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"uid empty component", NewCStoreRQ(1, ctImageStorage, "1..2", 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"uid trailing dot", NewCStoreRQ(1, ctImageStorage, "1.2.", 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"uid 65 chars", NewCStoreRQ(1, ctImageStorage, "1."+strings.Repeat("1", 63), 0), nil, TagAffectedSOPInstanceUID, ErrInvalidElement},
		{"class uid NUL", NewCStoreRQ(1, "1.2\x003", "1.2", 0), nil, TagAffectedSOPClassUID, ErrInvalidElement},
		{"move no dest", NewCMoveRQ(1, studyRootMove, "", 0), nil, TagMoveDestination, ErrMissingElement},
		{"move dest 17", NewCMoveRQ(1, studyRootMove, strings.Repeat("A", 17), 0), nil, TagMoveDestination, ErrInvalidElement},
		{"move dest backslash", NewCMoveRQ(1, studyRootMove, `A\B`, 0), nil, TagMoveDestination, ErrInvalidElement},
		{"move dest blank", NewCMoveRQ(1, studyRootMove, "   ", 0), nil, TagMoveDestination, ErrInvalidElement},
		{"find no identifier", NewCFindRQ(1, studyRootFind, 0), func(c *Command) { c.HasDataSet = false }, TagCommandDataSetType, ErrUnexpectedElement},
		{"find pending no identifier", NewResponse(NewCFindRQ(1, studyRootFind, 0), StatusPending), nil, TagCommandDataSetType, ErrUnexpectedElement},
		{"move pending no remaining", NewResponse(NewCMoveRQ(1, studyRootMove, "X", 0), StatusPending), nil, TagNumberOfRemainingSuboperations, ErrMissingElement},
		{"comment too long", NewResponse(NewCEchoRQ(1), StatusSuccess), func(c *Command) { c.ErrorComment = strings.Repeat("x", 65) }, TagErrorComment, ErrInvalidElement},
		{"comment control", NewResponse(NewCEchoRQ(1), StatusSuccess), func(c *Command) { c.ErrorComment = "a\r\nb" }, TagErrorComment, ErrInvalidElement},
		{"originator AE 17", NewCStoreRQ(1, ctImageStorage, "1.2", 0), func(c *Command) { c.MoveOriginatorApplicationEntityTitle = strings.Repeat("B", 17) }, TagMoveOriginatorApplicationEntityTitle, ErrInvalidElement},
		{"unknown command", &Command{CommandField: 0x0100}, nil, TagCommandField, ErrInvalidElement},
		{"cancel with data", NewCCancelRQ(1), func(c *Command) { c.HasDataSet = true }, TagCommandDataSetType, ErrUnexpectedElement},
		{"extra odd", NewCEchoRQ(1), func(c *Command) { c.Extra = []Element{{Tag: 5, Value: []byte{1}}} }, 5, ErrInvalidElement},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base
			if tc.mod != nil {
				tc.mod(c)
			}
			err := c.Validate()
			var ee *ElementError
			if !errors.As(err, &ee) || !errors.Is(err, tc.err) || ee.Tag != tc.tag {
				t.Fatalf("Validate = %v; want %v on %s", err, tc.err, tc.tag)
			}
			if !strings.Contains(err.Error(), c.CommandField.String()) || !strings.Contains(err.Error(), tc.tag.String()) {
				t.Errorf("error %q does not name the command and element", err)
			}
		})
	}
}

func TestCheckUIDValid(t *testing.T) {
	for _, s := range []string{"0", "1.2.840.10008.1.1", "1.0.2", "2.25.0", "1." + strings.Repeat("9", 62)} {
		if d := checkUID(s); d != "" {
			t.Errorf("checkUID(%q) = %q, want valid", s, d)
		}
	}
}

func TestCommandFieldString(t *testing.T) {
	cases := map[CommandField]string{
		CStoreRQ: "C-STORE-RQ", CStoreRSP: "C-STORE-RSP", CGetRQ: "C-GET-RQ", CGetRSP: "C-GET-RSP",
		CFindRQ: "C-FIND-RQ", CFindRSP: "C-FIND-RSP", CMoveRQ: "C-MOVE-RQ", CMoveRSP: "C-MOVE-RSP",
		CEchoRQ: "C-ECHO-RQ", CEchoRSP: "C-ECHO-RSP", CCancelRQ: "C-CANCEL-RQ", 0x0100: "CommandField(0x0100)",
	}
	for cf, want := range cases {
		if got := cf.String(); got != want {
			t.Errorf("%#04x.String() = %q, want %q", uint16(cf), got, want)
		}
		if cf.Known() != (want[0] == 'C' && want[1] == '-') {
			t.Errorf("%s.Known() wrong", cf)
		}
	}
	if CFindRQ.Response() != CFindRSP || CFindRSP.Response() != CFindRSP || CCancelRQ.Response() != CCancelRQ {
		t.Error("Response() wrong")
	}
}

func TestSetErrorSanitizes(t *testing.T) {
	c := NewResponse(NewCStoreRQ(1, ctImageStorage, "1.2", 0), 0)
	c.SetError(&StatusError{Status: StatusCannotUnderstand, Comment: "line1\nline2\\" + strings.Repeat("é", 80)}, StatusInternalError)
	if c.Status != StatusCannotUnderstand {
		t.Errorf("status = %v", c.Status)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("sanitized comment invalid: %v (%q)", err, c.ErrorComment)
	}
	if !strings.HasPrefix(c.ErrorComment, "line1 line2 é") {
		t.Errorf("comment = %q", c.ErrorComment)
	}
	c.SetError(errors.New("disk on fire at /secret/path"), StatusOutOfResources)
	if c.Status != StatusOutOfResources || c.ErrorComment != "" || c.OffendingElement != nil {
		t.Errorf("plain error leaked: %+v", c)
	}
}
