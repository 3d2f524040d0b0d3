package index

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shardpacs/shardpacs/dcm"
)

// ShareRecord describes one share object of an instance.
type ShareRecord struct {
	Index  int    // store number, 0..3
	Name   string // object name in that store (random, never PHI)
	Size   int64
	SHA256 [32]byte
}

// InstanceRecord is what the index holds about one SOP instance.
type InstanceRecord struct {
	SOPInstanceUID, SOPClassUID, SeriesInstanceUID, StudyInstanceUID, PatientID string

	// Attrs are the extracted attributes (UTF-8, multi-values joined by
	// '\'). On Insert, the index files each attribute at its level (see the
	// tag→level map in levels.go) and keeps the others with the instance.
	// Records read back carry the index's view: patient, study and series
	// attributes come from those entities, whose first instance's values
	// win (later instances only fill empty ones), so they may differ from
	// what this instance carried. Values are trimmed of leading/trailing
	// spaces and NULs; empty values are omitted; computed attributes
	// (counts, ModalitiesInStudy, SOPClassesInStudy) are not stored.
	Attrs map[dcm.Tag]string

	TransferSyntaxUID string
	Size              int64    // canonical Part-10 bytes
	SHA256            [32]byte // of the canonical bytes
	Codec             string
	K                 int
	KEKVersion        uint32
	ObjectID          string
	Shares            []ShareRecord
	ReceivedAt        time.Time // stored with nanosecond precision, returned in UTC
	SourceAE          string
}

// prepared is an InstanceRecord checked and split for storage.
type prepared struct {
	rec   *InstanceRecord
	vals  map[dcm.Tag]string // cleaned values of stored columns
	extra string             // JSON of the attributes without a column
}

// prepare validates rec and computes the stored values.
func prepare(rec *InstanceRecord) (*prepared, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: nil record", ErrInvalidRecord)
	}
	p := &prepared{rec: rec, vals: make(map[dcm.Tag]string, len(columns))}
	extra := map[string]string{}
	for t, v := range rec.Attrs {
		v = cleanValue(v)
		c := columnByTag[t]
		switch {
		case c == nil:
			if v != "" {
				extra[fmt.Sprintf("%08X", uint32(t))] = v
			}
		case c.computed():
		default:
			p.vals[t] = v
		}
	}
	set := func(t dcm.Tag, v string) {
		if v = cleanValue(v); v != "" || p.vals[t] == "" {
			p.vals[t] = v
		}
	}
	set(dcm.TagSOPInstanceUID, rec.SOPInstanceUID)
	set(dcm.TagSOPClassUID, rec.SOPClassUID)
	set(dcm.TagSeriesInstanceUID, rec.SeriesInstanceUID)
	set(dcm.TagStudyInstanceUID, rec.StudyInstanceUID)
	p.vals[dcm.TagPatientID] = cleanValue(rec.PatientID) // the record's field is authoritative, even when empty
	for _, t := range []dcm.Tag{dcm.TagSOPInstanceUID, dcm.TagSeriesInstanceUID, dcm.TagStudyInstanceUID} {
		if p.vals[t] == "" {
			return nil, fmt.Errorf("%w: empty %s", ErrInvalidRecord, t.Keyword())
		}
	}
	var seen [4]bool
	for _, s := range rec.Shares {
		if s.Index < 0 || s.Index > 3 || seen[s.Index] {
			return nil, fmt.Errorf("%w: share index %d", ErrInvalidRecord, s.Index)
		}
		seen[s.Index] = true
	}
	if len(extra) > 0 {
		b, err := json.Marshal(extra)
		if err != nil {
			return nil, fmt.Errorf("index: encode attributes: %w", err)
		}
		p.extra = string(b)
	}
	return p, nil
}

// physical lists the table columns of one stored attribute column with
// their values: the column itself and its matching companions.
func physical(c *column, v string) (names []string, vals []any) {
	switch c.kind {
	case kPN:
		g := pnGroups(v)
		return []string{c.name, c.name + "_a", c.name + "_i", c.name + "_p"}, []any{v, g[0], g[1], g[2]}
	case kTM:
		return []string{c.name, c.name + "_n"}, []any{v, storedTime(v)}
	}
	return []string{c.name}, []any{v}
}

// recordSelect reads whole InstanceRecords; scanRecord decodes its rows.
var recordSelect, recordCols = func() (string, []*column) {
	var sel []string
	var cols []*column
	for _, l := range []Level{LevelPatient, LevelStudy, LevelSeries, LevelImage} {
		for _, c := range storedColumns[l] {
			sel = append(sel, c.qual())
			cols = append(cols, c)
		}
	}
	return "SELECT i.pk, " + strings.Join(sel, ", ") +
		", i.extra, i.transfer_syntax_uid, i.size, i.sha256, i.codec, i.k, i.kek_version, i.object_id," +
		" i.received_at, i.source_ae," +
		" (SELECT json_group_array(json_array(sh.idx, sh.name, sh.size, hex(sh.sha256))) FROM share sh WHERE sh.instance_pk = i.pk)" +
		" FROM " + fromClause(LevelImage), cols
}()

type scanner interface{ Scan(dest ...any) error }

// scanRecord decodes one row of recordSelect.
func scanRecord(row scanner) (pk int64, rec *InstanceRecord, err error) {
	vals := make([]string, len(recordCols))
	dest := make([]any, 0, len(recordCols)+12)
	dest = append(dest, &pk)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	rec = &InstanceRecord{}
	var extra, shares string
	var sum []byte
	var kek int64
	var received int64
	dest = append(dest, &extra, &rec.TransferSyntaxUID, &rec.Size, &sum, &rec.Codec, &rec.K, &kek,
		&rec.ObjectID, &received, &rec.SourceAE, &shares)
	if err := row.Scan(dest...); err != nil {
		return 0, nil, err
	}
	rec.Attrs = make(map[dcm.Tag]string, len(vals))
	for i, c := range recordCols {
		if vals[i] != "" {
			rec.Attrs[c.tag] = vals[i]
		}
	}
	if extra != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(extra), &m); err != nil {
			return 0, nil, fmt.Errorf("index: decode attributes of instance %d: %w", pk, err)
		}
		for k, v := range m {
			t, err := strconv.ParseUint(k, 16, 32)
			if err != nil {
				return 0, nil, fmt.Errorf("index: decode attributes of instance %d: bad tag %q", pk, k)
			}
			rec.Attrs[dcm.Tag(t)] = v
		}
	}
	rec.SOPInstanceUID = rec.Attrs[dcm.TagSOPInstanceUID]
	rec.SOPClassUID = rec.Attrs[dcm.TagSOPClassUID]
	rec.SeriesInstanceUID = rec.Attrs[dcm.TagSeriesInstanceUID]
	rec.StudyInstanceUID = rec.Attrs[dcm.TagStudyInstanceUID]
	rec.PatientID = rec.Attrs[dcm.TagPatientID]
	copy(rec.SHA256[:], sum)
	rec.KEKVersion = uint32(kek)
	if received != 0 {
		rec.ReceivedAt = time.Unix(0, received).UTC()
	}
	if rec.Shares, err = decodeShares(shares); err != nil {
		return 0, nil, fmt.Errorf("index: decode shares of instance %d: %w", pk, err)
	}
	return pk, rec, nil
}

// decodeShares parses the json_group_array of recordSelect.
func decodeShares(s string) ([]ShareRecord, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var raw [][]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	out := make([]ShareRecord, 0, len(raw))
	for _, r := range raw {
		if len(r) != 4 {
			return nil, fmt.Errorf("share row with %d fields", len(r))
		}
		var sr ShareRecord
		var sum string
		if err := json.Unmarshal(r[0], &sr.Index); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[1], &sr.Name); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[2], &sr.Size); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[3], &sum); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(sum)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("bad share hash")
		}
		copy(sr.SHA256[:], b)
		out = append(out, sr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
