package ul

import (
	"errors"
	"reflect"
	"testing"

	"github.com/shardpacs/shardpacs/dimse/pdu"
)

const (
	tsJPEG2000 = "1.2.840.10008.1.2.4.90"
	mrImage    = "1.2.840.10008.5.1.4.1.1.4"
)

func TestNegotiateContexts(t *testing.T) {
	policy := func(as string) ([]string, bool) {
		switch as {
		case testCTImage:
			return []string{tsJPEG2000, ExplicitVRLittleEndian, ImplicitVRLittleEndian}, true
		case VerificationSOPClass:
			return []string{ImplicitVRLittleEndian}, true
		}
		return nil, false
	}
	tests := []struct {
		name    string
		as      string
		offered []string
		result  pdu.ContextResult
		ts      string
	}{
		{"our first preference wins over the peer's order", testCTImage, []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian}, pdu.ContextAccepted, ExplicitVRLittleEndian},
		{"only common one", testCTImage, []string{"1.2.3", ImplicitVRLittleEndian}, pdu.ContextAccepted, ImplicitVRLittleEndian},
		{"top preference", testCTImage, []string{ImplicitVRLittleEndian, tsJPEG2000}, pdu.ContextAccepted, tsJPEG2000},
		{"abstract syntax not supported", mrImage, []string{ImplicitVRLittleEndian}, pdu.ContextAbstractSyntaxNotSupported, ""},
		{"no common transfer syntax", VerificationSOPClass, []string{ExplicitVRLittleEndian}, pdu.ContextTransferSyntaxesNotSupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := echoRQ()
			rq.PresentationContexts = []pdu.PresentationContextRQ{{ID: 7, AbstractSyntax: tt.as, TransferSyntaxes: tt.offered}}
			cfg := &AcceptConfig{Contexts: policy}
			s := cfg.settings()
			ac, ctxs, r, why := negotiateAccept(cfg, &s, rq, nil)
			if r != nil {
				t.Fatalf("rejected: %v %v", r, why)
			}
			if len(ac.PresentationContexts) != 1 || ac.PresentationContexts[0].ID != 7 || ac.PresentationContexts[0].Result != tt.result {
				t.Fatalf("AC contexts %+v", ac.PresentationContexts)
			}
			if tt.result == pdu.ContextAccepted {
				want := []Context{{ID: 7, AbstractSyntax: tt.as, TransferSyntax: tt.ts, SCURole: true}}
				if !reflect.DeepEqual(ctxs, want) || ac.PresentationContexts[0].TransferSyntax != tt.ts {
					t.Errorf("contexts %+v, AC %+v", ctxs, ac.PresentationContexts[0])
				}
			} else if len(ctxs) != 0 {
				t.Errorf("rejected context listed as accepted: %+v", ctxs)
			}
		})
	}
}

func TestNegotiateDefaults(t *testing.T) {
	rq := echoRQ()
	rq.PresentationContexts = []pdu.PresentationContextRQ{
		{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian}},
		{ID: 3, AbstractSyntax: testCTImage, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
	}
	rq.CalledAETitle = "WHATEVER"
	cfg := &AcceptConfig{}
	s := cfg.settings()
	ac, ctxs, r, _ := negotiateAccept(cfg, &s, rq, nil)
	if r != nil {
		t.Fatal(r)
	}
	if len(ctxs) != 1 || ctxs[0].TransferSyntax != ExplicitVRLittleEndian {
		t.Errorf("zero config accepted %+v", ctxs)
	}
	if ac.PresentationContexts[1].Result != pdu.ContextAbstractSyntaxNotSupported {
		t.Errorf("zero config: CT answered %v", ac.PresentationContexts[1].Result)
	}
	ui := ac.UserInfo
	if ui.MaxLength != DefaultMaxPDULength || ui.ImplementationClassUID != DefaultImplementationClassUID || ui.ImplementationVersionName != DefaultImplementationVersionName {
		t.Errorf("user info %+v", ui)
	}
	if ac.CalledAETitle != "WHATEVER" || ac.CallingAETitle != "ECHOSCU" {
		t.Errorf("AE titles not echoed: %q %q", ac.CalledAETitle, ac.CallingAETitle)
	}
}

func TestNegotiateRoles(t *testing.T) {
	rq := echoRQ()
	rq.PresentationContexts = []pdu.PresentationContextRQ{
		{ID: 1, AbstractSyntax: testCTImage, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
		{ID: 3, AbstractSyntax: mrImage, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
		{ID: 5, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
	}
	rq.UserInfo.RoleSelections = []pdu.RoleSelection{
		{SOPClassUID: testCTImage, SCU: false, SCP: true},
		{SOPClassUID: mrImage, SCU: true, SCP: true},
		{SOPClassUID: "1.2.3.not.proposed", SCU: true, SCP: true},
		{SOPClassUID: testCTImage, SCU: true, SCP: true}, // repeated: ignored
	}
	all := func(string) ([]string, bool) { return []string{ImplicitVRLittleEndian}, true }
	for _, tt := range []struct {
		name  string
		sel   func(string, bool, bool) (bool, bool)
		roles []pdu.RoleSelection
		ctxs  []Context
	}{
		{"default: as proposed", nil,
			[]pdu.RoleSelection{{SOPClassUID: testCTImage, SCP: true}, {SOPClassUID: mrImage, SCU: true, SCP: true}},
			[]Context{{1, testCTImage, ImplicitVRLittleEndian, false, true}, {3, mrImage, ImplicitVRLittleEndian, true, true}, {5, VerificationSOPClass, ImplicitVRLittleEndian, true, false}}},
		{"hook withdraws SCP, cannot add a role", func(string, bool, bool) (bool, bool) { return true, false },
			[]pdu.RoleSelection{{SOPClassUID: testCTImage}, {SOPClassUID: mrImage, SCU: true}},
			[]Context{{1, testCTImage, ImplicitVRLittleEndian, false, false}, {3, mrImage, ImplicitVRLittleEndian, true, false}, {5, VerificationSOPClass, ImplicitVRLittleEndian, true, false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &AcceptConfig{Contexts: all, RoleSelect: tt.sel}
			s := cfg.settings()
			ac, ctxs, r, _ := negotiateAccept(cfg, &s, rq, nil)
			if r != nil {
				t.Fatal(r)
			}
			if !reflect.DeepEqual(ac.UserInfo.RoleSelections, tt.roles) {
				t.Errorf("role items %+v\nwant %+v", ac.UserInfo.RoleSelections, tt.roles)
			}
			if !reflect.DeepEqual(ctxs, tt.ctxs) {
				t.Errorf("contexts %+v\nwant %+v", ctxs, tt.ctxs)
			}
		})
	}
}

func TestCheckContextIDs(t *testing.T) {
	pc := func(ids ...uint8) []pdu.PresentationContextRQ {
		var out []pdu.PresentationContextRQ
		for _, id := range ids {
			out = append(out, pdu.PresentationContextRQ{ID: id, AbstractSyntax: "1.2", TransferSyntaxes: []string{"1.2"}})
		}
		return out
	}
	for _, tt := range []struct {
		ids []uint8
		ok  bool
	}{{[]uint8{1}, true}, {[]uint8{1, 3, 255}, true}, {nil, false}, {[]uint8{2}, false}, {[]uint8{0}, false}, {[]uint8{1, 3, 1}, false}} {
		if err := checkContextIDs(pc(tt.ids...)); (err == nil) != tt.ok {
			t.Errorf("%v: %v", tt.ids, err)
		}
	}
	// And the acceptor's answer when such a request gets that far.
	rq := echoRQ()
	rq.PresentationContexts = pc(1, 1)
	cfg := &AcceptConfig{}
	s := cfg.settings()
	if _, _, r, _ := negotiateAccept(cfg, &s, rq, nil); r == nil || *r != *rj(1, 1, 1) {
		t.Errorf("duplicate IDs answered %v", r)
	}
}

func TestAcceptedContexts(t *testing.T) {
	rq := echoRQ()
	rq.PresentationContexts = []pdu.PresentationContextRQ{
		{ID: 3, AbstractSyntax: testCTImage, TransferSyntaxes: []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}},
		{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
		{ID: 5, AbstractSyntax: mrImage, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
	}
	rq.UserInfo.RoleSelections = []pdu.RoleSelection{{SOPClassUID: testCTImage, SCU: true, SCP: true}}
	ac := &pdu.AssociateAC{PresentationContexts: []pdu.PresentationContextAC{
		{ID: 3, TransferSyntax: ImplicitVRLittleEndian},
		{ID: 1, TransferSyntax: ImplicitVRLittleEndian},
		{ID: 5, Result: pdu.ContextAbstractSyntaxNotSupported},
	}}
	ac.UserInfo.RoleSelections = []pdu.RoleSelection{{SOPClassUID: testCTImage, SCU: false, SCP: true}, {SOPClassUID: mrImage, SCP: true}}
	got, err := acceptedContexts(rq, ac)
	want := []Context{{1, VerificationSOPClass, ImplicitVRLittleEndian, true, false}, {3, testCTImage, ImplicitVRLittleEndian, false, true}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
	}
	for _, bad := range []pdu.PresentationContextAC{
		{ID: 7, TransferSyntax: ImplicitVRLittleEndian}, // not proposed
		{ID: 1, TransferSyntax: ImplicitVRLittleEndian}, // answered twice
		{ID: 5, TransferSyntax: ExplicitVRLittleEndian}, // TS not proposed
	} {
		ac2 := &pdu.AssociateAC{PresentationContexts: []pdu.PresentationContextAC{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}, bad}}
		if _, err := acceptedContexts(rq, ac2); err == nil {
			t.Errorf("accepted bad answer %+v", bad)
		}
	}
}

func TestBuildRQ(t *testing.T) {
	cfg := &RequestConfig{}
	s := cfg.settings()
	rq, err := buildRQ(cfg, &s)
	if err != nil {
		t.Fatal(err)
	}
	if rq.CallingAETitle != DefaultCallingAETitle || rq.CalledAETitle != DefaultCalledAETitle || len(rq.PresentationContexts) != 1 ||
		rq.PresentationContexts[0].AbstractSyntax != VerificationSOPClass || rq.UserInfo.MaxLength != DefaultMaxPDULength {
		t.Errorf("zero RequestConfig gave %+v", rq)
	}
	for _, bad := range []*RequestConfig{
		{Contexts: []pdu.PresentationContextRQ{{ID: 2, AbstractSyntax: "1.2", TransferSyntaxes: []string{"1.2"}}}},
		{Contexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: "1.2"}}},
	} {
		s := bad.settings()
		if _, err := buildRQ(bad, &s); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", bad.Contexts, err)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := (&AcceptConfig{}).settings()
	if s.maxPDU != DefaultMaxPDULength || s.minPeerPDU != DefaultMinPeerPDULength || s.artim != DefaultARTIMTimeout ||
		s.idle != DefaultIdleTimeout || s.write != DefaultWriteTimeout || s.limits.MaxPDataLength != DefaultMaxPDULength {
		t.Errorf("defaults %+v", s)
	}
	s = (&AcceptConfig{ARTIMTimeout: -1, IdleTimeout: -1, MaxPDULength: 8192, Limits: pdu.Limits{MaxPDataLength: 99}}).settings()
	if s.artim != 0 || s.idle != 0 || s.limits.MaxPDataLength != 8192 {
		t.Errorf("overrides %+v", s)
	}
}
