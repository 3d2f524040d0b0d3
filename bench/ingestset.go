package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
)

// genVersion changes whenever the generator's output changes, so that cached
// sets made by an older harness are rebuilt.
const genVersion = 4

// quarters is the number of sub-folders of each chunk: one per association
// when an ingest runs with 4 associations. Instance i goes to quarter i%4.
const quarters = 4

// studiesPerPatient: each patient has this many studies, so that a STUDY
// level query by Patient ID returns more than one answer.
const studiesPerPatient = 2

// setSpec describes one generated ingest set. Instance i belongs to study
// i/(PerSeries·SeriesPerStudy), its series i/PerSeries, its patient
// study/studiesPerPatient. Everything (UIDs included) derives from the spec,
// so a set is the same on every machine.
type setSpec struct {
	Name           string   // folder name under the set root and UID seed: "ct", "mf", "fill"
	Sources        []string // source files, used round-robin
	N              int      // instances
	PerSeries      int      // instances per series
	SeriesPerStudy int      // series per study
	PatientPrefix  string   // Patient ID prefix, e.g. "CT"
	// Chunks are ascending cumulative instance counts, the last equal to N:
	// chunk c holds instances [Chunks[c-1], Chunks[c]). Empty means one chunk.
	Chunks []int
	// Shrink replaces the image by a 16×16 16-bit one (2 KiB instances
	// that only fill an index). Sources must then be native 16-bit images.
	Shrink bool
}

// chunks returns the chunk bounds, defaulting to one chunk.
func (s setSpec) chunks() []int {
	if len(s.Chunks) == 0 {
		return []int{s.N}
	}
	return s.Chunks
}

func (s setSpec) studySize() int { return s.PerSeries * s.SeriesPerStudy }

func (s setSpec) validate() error {
	switch {
	case s.N < 1:
		return fmt.Errorf("bench: set %s: N must be positive", s.Name)
	case s.PerSeries < 1 || s.SeriesPerStudy < 1:
		return fmt.Errorf("bench: set %s: empty series or study", s.Name)
	case len(s.Sources) == 0:
		return fmt.Errorf("bench: set %s: no source file", s.Name)
	}
	prev := 0
	for _, c := range s.chunks() {
		if c <= prev {
			return fmt.Errorf("bench: set %s: chunk bounds must increase", s.Name)
		}
		prev = c
	}
	if prev != s.N {
		return fmt.Errorf("bench: set %s: last chunk bound %d != N %d", s.Name, prev, s.N)
	}
	return nil
}

// ingestSet is a generated set on disk, described by its manifest.
type ingestSet struct {
	Version     int
	Fingerprint string
	Spec        setSpec
	Studies     []studyInfo
	// ChunkFiles and ChunkBytes count the instances and bytes of each chunk.
	ChunkFiles []int
	ChunkBytes []int64

	dir string // where the set is; not in the manifest
}

// studyInfo is what queries and retrieves need to know about a study.
type studyInfo struct {
	PatientID, PatientName string
	StudyUID               string
	Series                 []string // Series Instance UIDs
	Instances              int
	Chunk                  int // the chunk holding its first instance
}

// quarterDir is the folder of one quarter of one chunk.
func (s *ingestSet) quarterDir(chunk, q int) string {
	return filepath.Join(s.dir, fmt.Sprintf("c%d", chunk), fmt.Sprintf("q%d", q))
}

// chunkDirs lists the quarter folders of a chunk.
func (s *ingestSet) chunkDirs(chunk int) []string {
	dirs := make([]string, quarters)
	for q := range dirs {
		dirs[q] = s.quarterDir(chunk, q)
	}
	return dirs
}

// studiesUpTo returns the studies entirely held by chunks 0..chunk.
func (s *ingestSet) studiesUpTo(chunk int) []studyInfo {
	end := s.Spec.chunks()[chunk]
	var out []studyInfo
	size := s.Spec.studySize()
	for i, st := range s.Studies {
		if i*size+st.Instances <= end {
			out = append(out, st)
		}
	}
	return out
}

// makeUID derives a UID under the 2.25 root (PS3.5 B.2: a UUID as a
// decimal integer) from the set name and a label, so sets are reproducible.
func makeUID(set, label string) string {
	h := sha256.Sum256([]byte("shardpacs-bench/" + set + "/" + label))
	h[0] &= 0x7F // 127 bits: at most 39 digits, "2.25." + 39 = 44 characters
	n := new(big.Int).SetBytes(h[:16])
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return "2.25." + n.String()
}

// fingerprint identifies the generator version, the spec and the sources'
// sizes and times.
func fingerprint(s setSpec) (string, error) {
	h := sha256.New()
	spec, _ := json.Marshal(s)
	fmt.Fprintf(h, "v%d %s\n", genVersion, spec)
	for _, src := range s.Sources {
		st, err := os.Stat(src)
		if err != nil {
			return "", fmt.Errorf("bench: source: %w", err)
		}
		fmt.Fprintf(h, "%s %d %d\n", filepath.Base(src), st.Size(), st.ModTime().UnixNano())
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:12]), nil
}

// loadOrGenerate returns the set in root/spec.Name, generating it unless a
// manifest with the same fingerprint is already there.
func loadOrGenerate(root string, spec setSpec) (*ingestSet, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	fp, err := fingerprint(spec)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, spec.Name)
	manifest := filepath.Join(dir, "manifest.json")
	if b, err := os.ReadFile(manifest); err == nil {
		var s ingestSet
		if json.Unmarshal(b, &s) == nil && s.Fingerprint == fp && s.Version == genVersion {
			s.dir = dir
			return &s, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	s, err := generate(dir, spec)
	if err != nil {
		return nil, err
	}
	s.Fingerprint = fp
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(manifest, b, 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// generate writes every instance of spec below dir.
func generate(dir string, spec setSpec) (*ingestSet, error) {
	srcs := make([]*part10, len(spec.Sources))
	for i, p := range spec.Sources {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if srcs[i], err = parsePart10(b); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if spec.Shrink && srcs[i].meta.TransferSyntaxUID != tsImplicitLE && srcs[i].meta.TransferSyntaxUID != "1.2.840.10008.1.2.1" {
			return nil, fmt.Errorf("bench: %s: shrinking needs a native transfer syntax", p)
		}
	}
	bounds := spec.chunks()
	s := &ingestSet{Version: genVersion, Spec: spec, dir: dir,
		ChunkFiles: make([]int, len(bounds)), ChunkBytes: make([]int64, len(bounds))}
	for c := range bounds {
		for q := 0; q < quarters; q++ {
			if err := os.MkdirAll(s.quarterDir(c, q), 0o755); err != nil {
				return nil, err
			}
		}
	}
	size := spec.studySize()
	chunk := 0
	for i := 0; i < spec.N; i++ {
		for i >= bounds[chunk] {
			chunk++
		}
		st, inStudy := i/size, i%size
		se, inSeries := inStudy/spec.PerSeries, inStudy%spec.PerSeries
		if inStudy == 0 {
			pid := fmt.Sprintf("%s%06d", spec.PatientPrefix, st/studiesPerPatient)
			s.Studies = append(s.Studies, studyInfo{PatientID: pid, PatientName: "BENCH^" + pid,
				StudyUID: makeUID(spec.Name, fmt.Sprintf("study/%d", st)), Chunk: chunk})
		}
		info := &s.Studies[st]
		if inSeries == 0 {
			info.Series = append(info.Series, makeUID(spec.Name, fmt.Sprintf("series/%d/%d", st, se)))
		}
		info.Instances++
		repl := map[uint32]newValue{
			tagSOPInstanceUID:    str("UI", makeUID(spec.Name, fmt.Sprintf("instance/%d", i))),
			tagPatientName:       str("PN", info.PatientName),
			tagPatientID:         str("LO", info.PatientID),
			tagStudyInstanceUID:  str("UI", info.StudyUID),
			tagSeriesInstanceUID: str("UI", info.Series[se]),
			tagStudyID:           str("SH", strconv.Itoa(st%100000)),
			tagAccessionNumber:   str("SH", fmt.Sprintf("A%s%07d", spec.PatientPrefix, st)),
			tagSeriesNumber:      str("IS", strconv.Itoa(se+1)),
			tagInstanceNumber:    str("IS", strconv.Itoa(inSeries+1)),
		}
		if spec.Shrink {
			repl[tagRows] = us(16)
			repl[tagColumns] = us(16)
			px := make([]byte, 16*16*2)
			for j := range px {
				px[j] = byte(i + j)
			}
			repl[tagPixelData] = newValue{vr: "OW", val: px}
		}
		b, err := srcs[i%len(srcs)].encode(repl)
		if err != nil {
			return nil, err
		}
		name := filepath.Join(s.quarterDir(chunk, i%quarters), fmt.Sprintf("%07d.dcm", i))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return nil, err
		}
		s.ChunkFiles[chunk]++
		s.ChunkBytes[chunk] += int64(len(b))
	}
	return s, nil
}

// errNoSource is returned when the corpus holds no file of a kind.
var errNoSource = errors.New("bench: no source file in the corpus")

// multiFrameSources lists the corpus files with more than one frame and at
// least minSize bytes that the rewriter can handle.
func multiFrameSources(files []string, minSize int64) ([]string, error) {
	var out []string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() < minSize {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		p, err := parsePart10(b)
		if err != nil || p.frames() < 2 {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: multi-frame", errNoSource)
	}
	return out, nil
}
