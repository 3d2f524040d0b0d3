package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// keyList is the repeatable -k flag: "Keyword=value", "(gggg,eeee)=value",
// "ggggeeee=value", or a key alone (return it: universal matching, PS3.4
// C.2.2.2.3).
type keyList []string

func (k *keyList) String() string { return strings.Join(*k, " ") }

func (k *keyList) Set(s string) error {
	if _, err := parseKey(s); err != nil {
		return err
	}
	*k = append(*k, s)
	return nil
}

// parseKey parses one -k argument into an identifier element (VR from the
// data dictionary, PS3.6).
func parseKey(s string) (dcm.Element, error) {
	name, value, _ := strings.Cut(s, "=")
	t, err := parseTag(strings.TrimSpace(name))
	if err != nil {
		return dcm.Element{}, err
	}
	if t == dcm.TagQueryRetrieveLevel {
		return dcm.Element{}, fmt.Errorf("QueryRetrieveLevel is set with --level")
	}
	if t.Group() == 0x0000 || t.Group() == 0x0002 || t.Group() == 0xFFFE || t == dcm.TagPixelData {
		return dcm.Element{}, fmt.Errorf("%s cannot be a query key", t)
	}
	return dcm.Element{Tag: t, Value: value}, nil
}

// parseTag reads a tag as "(gggg,eeee)", "gggg,eeee", "ggggeeee" or a
// data dictionary keyword ("PatientName").
func parseTag(s string) (dcm.Tag, error) {
	h := strings.NewReplacer("(", "", ")", "", ",", "").Replace(s)
	if len(h) == 8 {
		if n, err := strconv.ParseUint(h, 16, 32); err == nil {
			return dcm.Tag(n), nil
		}
	}
	if s == "" {
		return 0, fmt.Errorf("empty key")
	}
	info, err := dtag.FindByKeyword(s)
	if err != nil || info.Keyword != s {
		return 0, fmt.Errorf("unknown key %q: want a keyword of PS3.6 (PatientName) or a tag (0010,0010)", s)
	}
	return dcm.NewTag(info.Tag.Group, info.Tag.Element), nil
}

// tagName returns the keyword of t, or "(gggg,eeee)" when it has none.
func tagName(t dcm.Tag) string {
	if k := t.Keyword(); k != "" {
		return k
	}
	return t.String()
}

// Query/Retrieve levels (PS3.4 C.6.1.1, C.6.2.1).
const (
	levelPatient = "PATIENT"
	levelStudy   = "STUDY"
	levelSeries  = "SERIES"
	levelImage   = "IMAGE"
)

// qrModel is one Query/Retrieve information model (PS3.4 C.6.1, C.6.2).
type qrModel struct {
	name            string
	find, move, get string
}

var (
	patientRoot = qrModel{"patient", uid.PatientRootQRFind, uid.PatientRootQRMove, uid.PatientRootQRGet}
	studyRoot   = qrModel{"study", uid.StudyRootQRFind, uid.StudyRootQRMove, uid.StudyRootQRGet}
)

// queryOptions are the flags that build an identifier: --level, --root
// and the -k keys.
type queryOptions struct {
	level, root string
	keys        keyList
}

func (q *queryOptions) register(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&q.level, "level", defaultLevel, "Query/Retrieve `LEVEL`: PATIENT, STUDY, SERIES or IMAGE")
	fs.StringVar(&q.root, "root", "study", "information `MODEL`: study (Study Root) or patient (Patient Root)")
	fs.Var(&q.keys, "k", "query `KEY[=VALUE]` by keyword or (gggg,eeee), e.g. -k PatientName=DOE* -k StudyDate=20200101-; repeatable")
}

// resolve checks the level and model and returns them with the parsed
// keys (in command-line order).
func (q *queryOptions) resolve() (level string, m qrModel, keys []dcm.Element, err error) {
	level = strings.ToUpper(strings.TrimSpace(q.level))
	if level == "INSTANCE" {
		level = levelImage
	}
	switch level {
	case levelPatient, levelStudy, levelSeries, levelImage:
	default:
		return "", m, nil, fmt.Errorf("%w: --level %q: want PATIENT, STUDY, SERIES or IMAGE", errUsage, q.level)
	}
	switch strings.ToLower(q.root) {
	case "study":
		m = studyRoot
	case "patient":
		m = patientRoot
	default:
		return "", m, nil, fmt.Errorf("%w: --root %q: want study or patient", errUsage, q.root)
	}
	if m == studyRoot && level == levelPatient {
		return "", m, nil, fmt.Errorf("%w: the Study Root model has no PATIENT level (PS3.4 C.6.2): use --root patient", errUsage)
	}
	seen := make(map[dcm.Tag]bool)
	for _, s := range q.keys {
		e, err := parseKey(s)
		if err != nil {
			return "", m, nil, fmt.Errorf("%w: -k %s: %v", errUsage, s, err)
		}
		if seen[e.Tag] {
			return "", m, nil, fmt.Errorf("%w: -k %s: key given twice", errUsage, tagName(e.Tag))
		}
		seen[e.Tag] = true
		keys = append(keys, e)
	}
	return level, m, keys, nil
}

// identifier returns the identifier elements: Query/Retrieve Level
// (0008,0052), the keys, and the extra return keys not already present.
func identifier(level string, keys []dcm.Element, extra []dcm.Tag) []dcm.Element {
	out := append([]dcm.Element{{Tag: dcm.TagQueryRetrieveLevel, Value: level}}, keys...)
	have := make(map[dcm.Tag]bool, len(keys))
	for _, k := range keys {
		have[k.Tag] = true
	}
	for _, t := range extra {
		if !have[t] {
			out = append(out, dcm.Element{Tag: t})
		}
	}
	return out
}
