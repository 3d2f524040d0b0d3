package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

func TestAssociationPolicy(t *testing.T) {
	tn := startNode(t, func(c *config.Config) {
		c.UnknownCallingAE = config.UnknownCallingReject
		c.Peers = []config.Peer{
			{AETitle: "VIEWER", Permissions: []string{config.PermFind}},
			{AETitle: "FARAWAY", Networks: []string{"10.0.0.0/8"}},
			{AETitle: "NOECHO", Permissions: []string{config.PermStore}},
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echo := []dimse.ContextProposal{dimse.EchoContext()}
	for _, c := range []struct {
		ae     string
		reason pdu.RejectReason
	}{
		{"STRANGER", pdu.RejectUserCallingAENotRecognized},
		{"FARAWAY", pdu.RejectUserCallingAENotRecognized},
		{"NOECHO", pdu.RejectUserNoReason},
	} {
		_, err := (&dimse.Client{AETitle: c.ae}).Dial(ctx, tn.addr, tn.cfg.AETitle, echo)
		var rj *pdu.AssociateRJ
		if !errors.As(err, &rj) || rj.Source != pdu.SourceServiceUser || rj.Reason != c.reason {
			t.Errorf("%s: got %v, want A-ASSOCIATE-RJ (1,1,%d)", c.ae, err, c.reason)
		}
	}
	// VIEWER may find but not move: 0x0124.
	keys := []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}, {Tag: dcm.TagStudyInstanceUID, Value: "1.2.3"}}
	if _, st := moveWithClient(t, tn, "VIEWER", keys); st != dimse.StatusNotAuthorized {
		t.Errorf("move without permission: status %v, want 0x0124", st)
	}
	if got := findscu(t, tn, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID"); len(got) != 0 {
		t.Errorf("empty archive: %d matches", len(got))
	}
}

func TestFindStatuses(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.Limits.MaxFindResults = 1 })
	files := corpusOrSkip(t)
	storeCorpus(t, tn, files[:3], 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := (&dimse.Client{AETitle: "VIEWER"}).Dial(ctx, tn.addr, tn.cfg.AETitle, dimse.QueryRetrieveContexts())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Release(ctx)
	for _, c := range []struct {
		name    string
		model   string
		keys    []dcm.Element
		want    dimse.Status
		comment string // in the Error Comment, when set
		raw     []byte // sent as the identifier instead of keys, when set
	}{
		{"no level", "1.2.840.10008.5.1.4.1.2.2.1", []dcm.Element{{Tag: dcm.TagStudyInstanceUID}}, dimse.StatusUnableToProcess, "", nil},
		{"bad level", "1.2.840.10008.5.1.4.1.2.2.1", []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "FOO"}}, dimse.StatusUnableToProcess, "", nil},
		{"patient in study root", "1.2.840.10008.5.1.4.1.2.2.1", []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "PATIENT"}}, dimse.StatusIdentifierDoesNotMatchSOPClass, "", nil},
		{"over the cap", "1.2.840.10008.5.1.4.1.2.1.1", []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "IMAGE"}, {Tag: dcm.TagSOPInstanceUID}}, dimse.StatusOutOfResources, "", nil},
		// Adversarial row 30 through the node: refused, bounded, and the
		// association still answers (the case after each).
		{"1,000 keys", "1.2.840.10008.5.1.4.1.2.2.1", thousandKeys(), dimse.StatusUnableToProcess, "more than 512 keys", nil},
		{"10 MB value, over the 1 MiB identifier cap", "1.2.840.10008.5.1.4.1.2.2.1", nil, dimse.StatusOutOfResources, "data set refused", hugeValueIdentifier(cc, "1.2.840.10008.5.1.4.1.2.2.1")},
		{"still usable", "1.2.840.10008.5.1.4.1.2.2.1", []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}, {Tag: dcm.TagStudyInstanceUID, Value: "1.2.3.4"}}, dimse.StatusSuccess, "", nil},
	} {
		ident := c.raw
		if ident == nil {
			ts, _ := cc.TransferSyntax(c.model)
			if ident, err = dcm.EncodeIdentifier(c.keys, ts); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		st, err := cc.Find(ctx, c.model, ident, func([]byte) error { n++; return nil })
		if st != c.want || n != 0 {
			t.Errorf("%s: status %v after %d matches, want %v and none", c.name, st, n, c.want)
		}
		if c.comment != "" && (err == nil || !strings.Contains(err.Error(), c.comment)) {
			t.Errorf("%s: error %v, want the comment %q", c.name, err, c.comment)
		}
	}
}

// hugeValueIdentifier is a STUDY identifier whose Patient's Name is 10 MB
// long, written by hand (our encoder refuses it) in the transfer syntax cc
// negotiated for model: in Implicit VR, or as UN in Explicit VR, whose PN
// length field has 16 bits.
func hugeValueIdentifier(cc *dimse.ClientConn, model string) []byte {
	ts, _ := cc.TransferSyntax(model)
	le := binary.LittleEndian
	b := []byte{0x08, 0x00, 0x52, 0x00}
	if ts == uid.ImplicitVRLittleEndian {
		b = le.AppendUint32(b, 6)
	} else {
		b = le.AppendUint16(append(b, 'C', 'S'), 6)
	}
	b = append(b, "STUDY "...)
	b = append(b, 0x10, 0x00, 0x10, 0x00)
	if ts != uid.ImplicitVRLittleEndian {
		b = append(b, 'U', 'N', 0, 0)
	}
	b = le.AppendUint32(b, 10<<20)
	return append(b, bytes.Repeat([]byte{'A'}, 10<<20)...)
}

// thousandKeys is a STUDY identifier of 1,000 return keys (private
// elements of group 0009, all empty).
func thousandKeys() []dcm.Element {
	keys := []dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: "STUDY"}}
	for i := range 1000 {
		keys = append(keys, dcm.Element{Tag: dcm.NewTag(0x0009, uint16(0x1000+i)), VR: "LO"})
	}
	return keys
}
