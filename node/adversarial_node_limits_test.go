package node

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/pdu"
)

// TestNodeLimitsTakeEffect sets each field of config.Limits low and shows,
// through a running node, that it takes effect (docs/conformance.md §2.7
// lists them). dial_timeout and shutdown_timeout are not here: see the
// table's notes.
func TestNodeLimitsTakeEffect(t *testing.T) {
	study := advUID("40")
	series := study + ".1"
	inst := func(n string, extra ...dcm.Element) (string, []byte) {
		sop := advUID("40", "1", n)
		return sop, advInstance(t, sop, study, series, extra...)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*config.Config)
		check  func(t *testing.T, an *advNode)
	}{
		{"max_associations", func(c *config.Config) { c.Limits.MaxAssociations = 2; c.Limits.MaxAssociationsPerAE = 2 },
			func(t *testing.T, an *advNode) {
				an.dial(t, "A", dimse.EchoContext())
				an.dial(t, "B", dimse.EchoContext())
				advExpect(t, advRaw(t, an.addr, advRQBytes(t, "C", an.cfg.AETitle)), rjLimitBytes)
			}},
		{"max_associations_per_ae", func(c *config.Config) { c.Limits.MaxAssociationsPerAE = 1 },
			func(t *testing.T, an *advNode) {
				an.dial(t, "A", dimse.EchoContext())
				advExpect(t, advRaw(t, an.addr, advRQBytes(t, "A", an.cfg.AETitle)), rjLimitBytes)
				an.dial(t, "B", dimse.EchoContext()) // another AE still gets in
			}},
		{"max_pdu_length", func(c *config.Config) { c.Limits.MaxPDULength = 8 * config.KiB },
			func(t *testing.T, an *advNode) {
				c := advRaw(t, an.addr, advRQBytes(t, "A", an.cfg.AETitle))
				typ, body := advReadPDU(t, c)
				if typ != 0x02 || !bytes.Contains(body, []byte{0x51, 0x00, 0x00, 0x04, 0x00, 0x00, 0x20, 0x00}) {
					t.Fatalf("A-ASSOCIATE-AC (type %#x) does not advertise Maximum Length 8192: % x", typ, body)
				}
				// One P-DATA-TF of 16 KiB: over our maximum.
				pd := make([]byte, 6+16384)
				pd[0] = 0x04
				binary.BigEndian.PutUint32(pd[2:], 16384)
				binary.BigEndian.PutUint32(pd[6:], 16380)
				pd[10] = 1
				c.Write(pd)
				advExpect(t, c, abortInvalid)
			}},
		{"max_associate_rq_length", func(c *config.Config) { c.Limits.MaxAssociateRQLength = 1 * config.KiB },
			func(t *testing.T, an *advNode) {
				var pcs []pdu.PresentationContextRQ
				for i := range 40 {
					pcs = append(pcs, advPC(uint8(2*i+1), uid.StorageSOPClasses[i].UID))
				}
				rq := advRQBytes(t, "A", an.cfg.AETitle, pcs...)
				if len(rq) <= 2*1024 {
					t.Fatalf("RQ of %d bytes is not over the cap", len(rq))
				}
				c := advRaw(t, an.addr, rq)
				typ, body := advReadPDU(t, c)
				if !(typ == 0x07 && bytes.Equal(body, []byte{0, 0, 2, 6})) && !(typ == 0x03 && bytes.Equal(body, []byte{0, 1, 1, 1})) {
					t.Fatalf("PDU type %#x % x, want A-ABORT (2,6) or RJ (1,1,1)", typ, body)
				}
			}},
		{"max_data_set_size", func(c *config.Config) {
			c.Limits.MaxDataSetSize = 32 * config.KiB
			c.Limits.SpoolThreshold = 16 * config.KiB
		}, func(t *testing.T, an *advNode) {
			cc := an.dial(t, "A", advSCProps()...)
			big, ds := inst("1", advPixels(64<<10, 1))
			if st, c := advStoreSt(t, cc, big, ds); st != dimse.StatusOutOfResources {
				t.Errorf("64 KiB data set: %v %q, want 0xA700", st, c)
			}
			small, ds := inst("2", advPixels(8<<10, 1))
			if st, c := advStoreSt(t, cc, small, ds); st != dimse.StatusSuccess {
				t.Errorf("8 KiB data set: %v %q", st, c)
			}
			if an.advLookup(t, big) {
				t.Error("the refused data set is indexed")
			}
		}},
		{"spool_threshold", func(c *config.Config) {
			c.Limits.SpoolThreshold = 16 * config.KiB
		}, func(t *testing.T, an *advNode) {
			// The spool folder exists from the start (New creates it),
			// and a data set past the threshold goes through it.
			cc := an.dial(t, "A", advSCProps()...)
			sop, ds := inst("1", advPixels(256<<10, 3))
			if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
				t.Fatalf("256 KiB data set past a 16 KiB spool threshold: %v %q", st, c)
			}
			if got := advRead(t, an, sop); !bytes.Equal(got, ds) {
				t.Error("spooled instance not stored byte for byte")
			}
		}},
		{"max_sequence_depth", func(c *config.Config) { c.Limits.MaxSequenceDepth = 4 },
			func(t *testing.T, an *advNode) {
				cc := an.dial(t, "A", append(advSCProps(), dimse.QueryRetrieveContexts()...)...)
				deep, ds := inst("1", advNested(6))
				if st, c := advStoreSt(t, cc, deep, ds); st != dimse.StatusNestingTooDeep || !strings.Contains(c, "max_sequence_depth") {
					t.Errorf("depth 6 under a cap of 4: %v %q, want 0xC002", st, c)
				}
				ok, ds := inst("2", advNested(3))
				if st, c := advStoreSt(t, cc, ok, ds); st != dimse.StatusSuccess {
					t.Errorf("depth 3: %v %q", st, c)
				}
				ident, err := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "STUDY"},
					{Tag: dcm.TagStudyInstanceUID, VR: "UI"}, advNested(6)}, uid.ExplicitVRLittleEndian)
				if err != nil {
					t.Fatal(err)
				}
				_, err = cc.Find(t.Context(), uid.StudyRootQRFind, ident, func([]byte) error { return nil })
				if !errors.Is(err, dimse.StatusNestingTooDeep) {
					t.Errorf("C-FIND identifier of depth 6: %v, want 0xC002", err)
				}
			}},
		{"max_inflated_size", func(c *config.Config) { c.Limits.MaxInflatedSize = 64 * config.KiB },
			func(t *testing.T, an *advNode) {
				props := dimse.StorageContexts([]string{uid.SecondaryCaptureImageStorage}, []string{uid.DeflatedExplicitVRLittleEndian}, false)
				cc := an.dial(t, "A", props...)
				for _, c := range []struct {
					n    string
					size int
					want dimse.Status
				}{{"1", 256 << 10, dimse.StatusOutOfResources}, {"2", 16 << 10, dimse.StatusSuccess}} {
					sop, ds := inst(c.n, advPixels(c.size, 0))
					var z bytes.Buffer
					fw, _ := flate.NewWriter(&z, flate.BestCompression)
					fw.Write(ds)
					fw.Close()
					st, err := cc.Store(t.Context(), uid.SecondaryCaptureImageStorage, sop, uid.DeflatedExplicitVRLittleEndian, &z)
					if got := dimse.StatusOf(err, st); got != c.want {
						t.Errorf("deflated data set inflating to %d bytes: %v (%v), want %v", len(ds), got, err, c.want)
					}
				}
			}},
		{"max_find_results", func(c *config.Config) { c.Limits.MaxFindResults = 2 },
			func(t *testing.T, an *advNode) {
				cc := an.dial(t, "A", append(advSCProps(), dimse.QueryRetrieveContexts()...)...)
				for _, n := range []string{"1", "2", "3"} {
					sop, ds := inst(n)
					if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
						t.Fatalf("store: %v %q", st, c)
					}
				}
				find := func(level string) (int, error) {
					ident, _ := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: level},
						{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: study}, {Tag: dcm.TagSOPInstanceUID, VR: "UI"}}, uid.ExplicitVRLittleEndian)
					if level == "STUDY" {
						ident, _ = dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: level},
							{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: study}}, uid.ExplicitVRLittleEndian)
					}
					n := 0
					_, err := cc.Find(t.Context(), uid.StudyRootQRFind, ident, func([]byte) error { n++; return nil })
					return n, err
				}
				if n, err := find("IMAGE"); !errors.Is(err, dimse.StatusOutOfResources) || n != 0 {
					t.Errorf("3 IMAGE matches over a cap of 2: %d streamed, %v; want 0xA700 and none", n, err)
				}
				if n, err := find("STUDY"); err != nil || n != 1 {
					t.Errorf("1 STUDY match: %d, %v", n, err)
				}
			}},
		{"artim_timeout", func(c *config.Config) { c.Limits.ARTIMTimeout = 300 * time.Millisecond },
			func(t *testing.T, an *advNode) {
				c := advRaw(t, an.addr, nil)
				start := time.Now()
				advExpectClose(t, c)
				if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
					t.Errorf("silent connection closed after %v, want about 300ms", d)
				}
			}},
		{"idle_timeout", func(c *config.Config) { c.Limits.IdleTimeout = 300 * time.Millisecond },
			func(t *testing.T, an *advNode) {
				c := advRaw(t, an.addr, advRQBytes(t, "A", an.cfg.AETitle))
				if typ, _ := advReadPDU(t, c); typ != 0x02 {
					t.Fatalf("PDU type %#x, want A-ASSOCIATE-AC", typ)
				}
				start := time.Now()
				advExpect(t, c, abortIdleBytes)
				if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
					t.Errorf("idle association aborted after %v, want about 300ms", d)
				}
			}},
		{"operation_timeout/C-FIND", func(c *config.Config) { c.Limits.OperationTimeout = 300 * time.Millisecond },
			func(t *testing.T, an *advNode) {
				cc := an.dial(t, "A", append(advSCProps(), dimse.QueryRetrieveContexts()...)...)
				sop, ds := inst("1")
				if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
					t.Fatalf("store: %v %q", st, c)
				}
				// Hold every read connection of the index: the node's query
				// waits for one and runs out of time.
				release := make(chan struct{})
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						_ = an.arch.Query(context.Background(), &index.Query{Root: index.StudyRoot, Level: index.LevelStudy},
							func(index.Match) error { <-release; return nil })
					})
				}
				time.Sleep(100 * time.Millisecond)
				ident, _ := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "STUDY"},
					{Tag: dcm.TagStudyInstanceUID, VR: "UI"}}, uid.ExplicitVRLittleEndian)
				start := time.Now()
				_, err := cc.Find(t.Context(), uid.StudyRootQRFind, ident, func([]byte) error { return nil })
				close(release)
				wg.Wait()
				var se *dimse.StatusError
				if !errors.As(err, &se) || se.Status != dimse.StatusOutOfResources || !strings.Contains(se.Comment, "operation_timeout") {
					t.Fatalf("C-FIND while the index is busy: %v, want 0xA700 naming operation_timeout", err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("answered after %v", d)
				}
			}},
		{"operation_timeout/C-MOVE sub-operation", nil, func(t *testing.T, _ *advNode) {
			// A destination that never answers its C-STORE-RQ.
			blocked := make(chan struct{})
			dest := &dimse.Server{AETitle: "DEST", IdleTimeout: -1, Store: dimse.StoreHandlerFunc(func(ctx context.Context, _ *dimse.StoreRequest) error {
				select {
				case <-ctx.Done():
				case <-blocked:
				}
				return nil
			})}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- dest.Serve(l) }()
			t.Cleanup(func() {
				close(blocked)
				ctx, cancel := context.WithTimeout(context.Background(), advTO)
				defer cancel()
				_ = dest.Shutdown(ctx)
				<-served
			})
			an := startAdvNode(t, func(c *config.Config) {
				c.Limits.OperationTimeout = 300 * time.Millisecond
				c.Peers = []config.Peer{{AETitle: "DEST", Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}}
			})
			cc := an.dial(t, "A", append(advSCProps(), dimse.QueryRetrieveContexts()...)...)
			sop, ds := inst("1")
			if st, c := advStoreSt(t, cc, sop, ds); st != dimse.StatusSuccess {
				t.Fatalf("store: %v %q", st, c)
			}
			ident, _ := dcm.EncodeIdentifier([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, VR: "CS", Value: "IMAGE"},
				{Tag: dcm.TagStudyInstanceUID, VR: "UI", Value: study}, {Tag: dcm.TagSOPInstanceUID, VR: "UI", Value: sop}}, uid.ExplicitVRLittleEndian)
			start := time.Now()
			so, st, _ := cc.Move(t.Context(), uid.StudyRootQRMove, "DEST", ident, nil)
			if st != dimse.StatusOutOfResourcesSubops || so.Failed != 1 {
				t.Errorf("C-MOVE to a destination that never answers: %v %+v, want 0xA702 with 1 failed", st, so)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mutate == nil {
				tc.check(t, nil) // starts its own node
				return
			}
			tc.check(t, startAdvNode(t, tc.mutate))
		})
	}
}
