package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

func init() {
	register(&command{name: "find", summary: "C-FIND: query a node at the PATIENT, STUDY, SERIES or IMAGE level", run: runFind})
}

// defaultReturnKeys are asked for (as empty return keys) at each level
// unless --no-defaults: the level's unique key and the attributes a person
// looks at first (PS3.4 C.6.1.1, C.6.2.1). Patient attributes appear at the
// STUDY level only in the Study Root model.
var defaultReturnKeys = map[string][]dcm.Tag{
	levelPatient: {dcm.TagPatientID, dcm.TagPatientName, dcm.TagPatientBirthDate, dcm.TagPatientSex},
	levelStudy: {dcm.TagStudyInstanceUID, dcm.TagStudyDate, dcm.TagStudyTime, dcm.TagAccessionNumber,
		dcm.TagStudyID, dcm.TagStudyDescription},
	levelSeries: {dcm.TagSeriesInstanceUID, dcm.TagModality, dcm.TagSeriesNumber, dcm.TagSeriesDescription},
	levelImage:  {dcm.TagSOPInstanceUID, dcm.TagSOPClassUID, dcm.TagInstanceNumber},
}

// runFind is "shardpacs find [flags] TARGET": one C-FIND (PS3.4 C.4.1)
// with the identifier built from --level, --root and -k; every match is
// printed as keyword=value lines (blank line between matches) or, with
// --json, as one JSON array of objects. The final status goes to stderr;
// anything but Success is an error. Interrupting sends a C-CANCEL-RQ.
func runFind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("find", "find [flags] HOST:PORT|PEER-AE --level STUDY -k PatientName=DOE* ...", stderr)
	var q queryOptions
	q.register(o.fs, levelStudy)
	asJSON := o.fs.Bool("json", false, "print the matches as a JSON array")
	noDefaults := o.fs.Bool("no-defaults", false, "ask only for the -k keys (by default the level's usual attributes are returned too)")
	target, err := parseTarget(o.fs, args)
	if err != nil {
		return err
	}
	level, model, keys, err := q.resolve()
	if err != nil {
		return err
	}
	var extra []dcm.Tag
	if !*noDefaults {
		extra = defaultReturnKeys[level]
		if level == levelStudy && model == studyRoot {
			extra = append([]dcm.Tag{dcm.TagPatientName, dcm.TagPatientID}, extra...)
		}
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	t, err := o.resolveTarget(cfg, target)
	if err != nil {
		return err
	}
	c, err := o.client(cfg, t)
	if err != nil {
		return err
	}
	cc, err := dial(ctx, c, t, []dimse.ContextProposal{{AbstractSyntax: model.find, TransferSyntaxes: dimse.EchoContext().TransferSyntaxes}})
	if err != nil {
		return err
	}
	defer release(ctx, cc)
	ts, _ := cc.TransferSyntax(model.find)
	id, err := dcm.EncodeIdentifier(identifier(level, keys, extra), ts)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	var matches [][]dcm.Element
	n := 0
	st, err := cc.Find(ctx, model.find, id, func(b []byte) error {
		elems, err := dcm.DecodeIdentifier(b, ts, dcm.Limits{})
		if err != nil {
			return fmt.Errorf("match %d: %w", n+1, err)
		}
		n++
		if *asJSON {
			matches = append(matches, elems)
			return nil
		}
		if n > 1 {
			fmt.Fprintln(stdout)
		}
		writeElements(stdout, "", elems)
		return nil
	})
	if *asJSON && (err == nil || isStatusErr(err)) {
		if jerr := writeJSON(stdout, matches); jerr != nil {
			return jerr
		}
	}
	if err != nil && !isStatusErr(err) {
		return err
	}
	fmt.Fprintf(stderr, "%s (C-FIND status 0x%04X: %s)\n", plural(n, "match"), uint16(st), st.Meaning(dimse.CFindRQ))
	if err != nil {
		return err
	}
	return nil
}

// writeElements prints elems as "Keyword=value" lines; items of sequences
// as "Keyword[i].Sub=value".
func writeElements(w io.Writer, prefix string, elems []dcm.Element) {
	for _, e := range elems {
		name := prefix + tagName(e.Tag)
		switch {
		case e.VR == "SQ" || e.Items != nil:
			if len(e.Items) == 0 {
				fmt.Fprintf(w, "%s=\n", name)
			}
			for i, it := range e.Items {
				writeElements(w, name+"["+strconv.Itoa(i)+"].", it)
			}
		case e.Bytes != nil:
			fmt.Fprintf(w, "%s=%s\n", name, bytesText(e.Bytes))
		default:
			fmt.Fprintf(w, "%s=%s\n", name, printable(e.Value))
		}
	}
}

// bytesText shows a binary value: hex when short, its size otherwise.
func bytesText(b []byte) string {
	if len(b) <= 32 {
		return "0x" + hex.EncodeToString(b)
	}
	return "<" + strconv.Itoa(len(b)) + " bytes>"
}

// printable returns v as is, or Go-quoted when it holds control
// characters (a value must not break the one-line-per-attribute output).
func printable(v string) string {
	if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

// jsonObject converts elements to a JSON object: strings, arrays of objects
// for sequences, hex strings for binary values.
func jsonObject(elems []dcm.Element) map[string]any {
	out := make(map[string]any, len(elems))
	for _, e := range elems {
		name := tagName(e.Tag)
		switch {
		case e.VR == "SQ" || e.Items != nil:
			items := make([]map[string]any, len(e.Items))
			for i, it := range e.Items {
				items[i] = jsonObject(it)
			}
			out[name] = items
		case e.Bytes != nil:
			out[name] = hex.EncodeToString(e.Bytes)
		default:
			out[name] = e.Value
		}
	}
	return out
}

func writeJSON(w io.Writer, matches [][]dcm.Element) error {
	objs := make([]map[string]any, len(matches))
	for i, m := range matches {
		objs[i] = jsonObject(m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(objs); err != nil {
		return errors.Join(errors.New("writing JSON"), err)
	}
	return nil
}
