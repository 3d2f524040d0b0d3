//go:build ignore

// gen.go generates zz_generated.go: the transfer syntaxes, the Storage SOP
// Classes and the UID → name table of package uid.
//
// Its source is the DICOM UID registry (PS3.6 Table A-1) as published by
// pydicom in _uid_dict.py, which pydicom itself generates from PS3.6. The
// Debian package python3-pydicom installs it; pass another copy with -src.
// Entries registered in PS3.6 after the edition that file was generated from
// are added from the supplement table below, so the output stays generated
// and a reviewer can diff every entry against the standard.
//
//	go run gen.go [-src path/to/_uid_dict.py] [-out zz_generated.go]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"go/token"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const defaultSrc = "/usr/lib/python3/dist-packages/pydicom/_uid_dict.py"

// entry is one row of PS3.6 Table A-1.
type entry struct {
	UID, Name, Type, Info, Keyword string
	Retired                        bool
}

// supplement lists UIDs registered in PS3.6 Table A-1 after the registry
// edition behind Debian 12's python3-pydicom 2.3.1 (generated in 2022).
// Names and keywords are those of the PS3.6 2024/2025 editions, as carried
// by pydicom's main-branch _uid_dict.py (generated from PS3.6). An entry
// already present in the source file is ignored (the source wins), so
// regenerating from a newer pydicom changes nothing.
var supplement = []entry{
	// Transfer syntaxes (PS3.5 Section 8.2 / Annex A).
	{UID: "1.2.840.10008.1.2.4.100.1", Name: "Fragmentable MPEG2 Main Profile / Main Level", Type: "Transfer Syntax", Keyword: "MPEG2MPMLF"},
	{UID: "1.2.840.10008.1.2.4.101.1", Name: "Fragmentable MPEG2 Main Profile / High Level", Type: "Transfer Syntax", Keyword: "MPEG2MPHLF"},
	{UID: "1.2.840.10008.1.2.4.102.1", Name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1", Type: "Transfer Syntax", Keyword: "MPEG4HP41F"},
	{UID: "1.2.840.10008.1.2.4.103.1", Name: "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", Type: "Transfer Syntax", Keyword: "MPEG4HP41BDF"},
	{UID: "1.2.840.10008.1.2.4.104.1", Name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", Type: "Transfer Syntax", Keyword: "MPEG4HP422DF"},
	{UID: "1.2.840.10008.1.2.4.105.1", Name: "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", Type: "Transfer Syntax", Keyword: "MPEG4HP423DF"},
	{UID: "1.2.840.10008.1.2.4.106.1", Name: "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", Type: "Transfer Syntax", Keyword: "MPEG4HP42STEREOF"},
	{UID: "1.2.840.10008.1.2.4.110", Name: "JPEG XL Lossless", Type: "Transfer Syntax", Keyword: "JPEGXLLossless"},
	{UID: "1.2.840.10008.1.2.4.111", Name: "JPEG XL JPEG Recompression", Type: "Transfer Syntax", Keyword: "JPEGXLJPEGRecompression"},
	{UID: "1.2.840.10008.1.2.4.112", Name: "JPEG XL", Type: "Transfer Syntax", Keyword: "JPEGXL"},
	{UID: "1.2.840.10008.1.2.4.201", Name: "High-Throughput JPEG 2000 Image Compression (Lossless Only)", Type: "Transfer Syntax", Keyword: "HTJ2KLossless"},
	{UID: "1.2.840.10008.1.2.4.202", Name: "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", Type: "Transfer Syntax", Keyword: "HTJ2KLosslessRPCL"},
	{UID: "1.2.840.10008.1.2.4.203", Name: "High-Throughput JPEG 2000 Image Compression", Type: "Transfer Syntax", Keyword: "HTJ2K"},
	{UID: "1.2.840.10008.1.2.4.204", Name: "JPIP HTJ2K Referenced", Type: "Transfer Syntax", Keyword: "JPIPHTJ2KReferenced"},
	{UID: "1.2.840.10008.1.2.4.205", Name: "JPIP HTJ2K Referenced Deflate", Type: "Transfer Syntax", Keyword: "JPIPHTJ2KReferencedDeflate"},
	{UID: "1.2.840.10008.1.2.8.1", Name: "Deflated Image Frame Compression", Type: "Transfer Syntax", Keyword: "DeflatedImageFrameCompression"},

	// Storage SOP Classes (PS3.4 Table B.5-1).
	{UID: "1.2.840.10008.5.1.4.1.1.6.3", Name: "Photoacoustic Image Storage", Type: "SOP Class", Keyword: "PhotoacousticImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.9.1.4", Name: "General 32-bit ECG Waveform Storage", Type: "SOP Class", Keyword: "General32bitECGWaveformStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.11.12", Name: "Variable Modality LUT Softcopy Presentation State Storage", Type: "SOP Class", Keyword: "VariableModalityLUTSoftcopyPresentationStateStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.66.7", Name: "Label Map Segmentation Storage", Type: "SOP Class", Keyword: "LabelMapSegmentationStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.66.8", Name: "Height Map Segmentation Storage", Type: "SOP Class", Keyword: "HeightMapSegmentationStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.77.1.8", Name: "Confocal Microscopy Image Storage", Type: "SOP Class", Keyword: "ConfocalMicroscopyImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.77.1.9", Name: "Confocal Microscopy Tiled Pyramidal Image Storage", Type: "SOP Class", Keyword: "ConfocalMicroscopyTiledPyramidalImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.88.77", Name: "Waveform Annotation SR Storage", Type: "SOP Class", Keyword: "WaveformAnnotationSRStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.481.23", Name: "Enhanced RT Image Storage", Type: "SOP Class", Keyword: "EnhancedRTImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.481.24", Name: "Enhanced Continuous RT Image Storage", Type: "SOP Class", Keyword: "EnhancedContinuousRTImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.481.25", Name: "RT Patient Position Acquisition Instruction Storage", Type: "SOP Class", Keyword: "RTPatientPositionAcquisitionInstructionStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.601.3", Name: "Thermography Image Storage", Type: "SOP Class", Keyword: "ThermographyImageStorage"},
	{UID: "1.2.840.10008.5.1.4.1.1.601.4", Name: "Thermography Multi-frame Image Storage", Type: "SOP Class", Keyword: "ThermographyMultiFrameImageStorage"},

	// Non-Patient Object Storage (PS3.4 Table GG.3-1).
	{UID: "1.2.840.10008.5.1.4.1.1.201.1", Name: "Inventory Storage", Type: "SOP Class", Keyword: "InventoryStorage"},
}

// tsFlags classifies every transfer syntax (PS3.5 Section 8 and 10, Annex A).
// The generator fails on a transfer syntax missing here, so a new one gets a
// human decision. Lossy means "pixel data may have been irreversibly
// compressed" (PS3.5 8.2); JPIP syntaxes reference pixel data instead of
// encapsulating it (PS3.5 A.4.x), and their Deflate variants deflate the
// whole data set like 1.2.840.10008.1.2.1.99.
type tsFlags struct{ explicitVR, bigEndian, deflated, encapsulated, lossy bool }

const (
	lossless = false
	lossy    = true
)

func enc(l bool) tsFlags { return tsFlags{explicitVR: true, encapsulated: true, lossy: l} }

var transferSyntaxFlags = map[string]tsFlags{
	"1.2.840.10008.1.2":         {},
	"1.2.840.10008.1.2.1":       {explicitVR: true},
	"1.2.840.10008.1.2.1.98":    enc(lossless),
	"1.2.840.10008.1.2.1.99":    {explicitVR: true, deflated: true},
	"1.2.840.10008.1.2.2":       {explicitVR: true, bigEndian: true},
	"1.2.840.10008.1.2.4.50":    enc(lossy),
	"1.2.840.10008.1.2.4.51":    enc(lossy),
	"1.2.840.10008.1.2.4.52":    enc(lossy),
	"1.2.840.10008.1.2.4.53":    enc(lossy),
	"1.2.840.10008.1.2.4.54":    enc(lossy),
	"1.2.840.10008.1.2.4.55":    enc(lossy),
	"1.2.840.10008.1.2.4.56":    enc(lossy),
	"1.2.840.10008.1.2.4.57":    enc(lossless),
	"1.2.840.10008.1.2.4.58":    enc(lossless),
	"1.2.840.10008.1.2.4.59":    enc(lossy),
	"1.2.840.10008.1.2.4.60":    enc(lossy),
	"1.2.840.10008.1.2.4.61":    enc(lossy),
	"1.2.840.10008.1.2.4.62":    enc(lossy),
	"1.2.840.10008.1.2.4.63":    enc(lossy),
	"1.2.840.10008.1.2.4.64":    enc(lossy),
	"1.2.840.10008.1.2.4.65":    enc(lossless),
	"1.2.840.10008.1.2.4.66":    enc(lossless),
	"1.2.840.10008.1.2.4.70":    enc(lossless),
	"1.2.840.10008.1.2.4.80":    enc(lossless),
	"1.2.840.10008.1.2.4.81":    enc(lossy),
	"1.2.840.10008.1.2.4.90":    enc(lossless),
	"1.2.840.10008.1.2.4.91":    enc(lossy),
	"1.2.840.10008.1.2.4.92":    enc(lossless),
	"1.2.840.10008.1.2.4.93":    enc(lossy),
	"1.2.840.10008.1.2.4.94":    {explicitVR: true, lossy: true},
	"1.2.840.10008.1.2.4.95":    {explicitVR: true, deflated: true, lossy: true},
	"1.2.840.10008.1.2.4.100":   enc(lossy),
	"1.2.840.10008.1.2.4.100.1": enc(lossy),
	"1.2.840.10008.1.2.4.101":   enc(lossy),
	"1.2.840.10008.1.2.4.101.1": enc(lossy),
	"1.2.840.10008.1.2.4.102":   enc(lossy),
	"1.2.840.10008.1.2.4.102.1": enc(lossy),
	"1.2.840.10008.1.2.4.103":   enc(lossy),
	"1.2.840.10008.1.2.4.103.1": enc(lossy),
	"1.2.840.10008.1.2.4.104":   enc(lossy),
	"1.2.840.10008.1.2.4.104.1": enc(lossy),
	"1.2.840.10008.1.2.4.105":   enc(lossy),
	"1.2.840.10008.1.2.4.105.1": enc(lossy),
	"1.2.840.10008.1.2.4.106":   enc(lossy),
	"1.2.840.10008.1.2.4.106.1": enc(lossy),
	"1.2.840.10008.1.2.4.107":   enc(lossy),
	"1.2.840.10008.1.2.4.108":   enc(lossy),
	"1.2.840.10008.1.2.4.110":   enc(lossless),
	"1.2.840.10008.1.2.4.111":   enc(lossy), // lossless recompression of (lossy) JPEG baseline
	"1.2.840.10008.1.2.4.112":   enc(lossy),
	"1.2.840.10008.1.2.4.201":   enc(lossless),
	"1.2.840.10008.1.2.4.202":   enc(lossless),
	"1.2.840.10008.1.2.4.203":   enc(lossy),
	"1.2.840.10008.1.2.4.204":   {explicitVR: true, lossy: true},
	"1.2.840.10008.1.2.4.205":   {explicitVR: true, deflated: true, lossy: true},
	"1.2.840.10008.1.2.5":       enc(lossless),
	// SMPTE ST 2110 syntaxes carry uncompressed video/audio for DICOM-RTV
	// (PS3.22); the data set itself is explicit VR little endian.
	"1.2.840.10008.1.2.7.1": {explicitVR: true},
	"1.2.840.10008.1.2.7.2": {explicitVR: true},
	"1.2.840.10008.1.2.7.3": {explicitVR: true},
	"1.2.840.10008.1.2.8.1": enc(lossless),
}

// notNetworkTS are registry transfer syntaxes that never appear in a
// presentation context: they name document encodings, not DICOM encodings
// (PS3.5 Table A-1 lists them as retired). They stay in the name table.
var notNetworkTS = map[string]bool{
	"1.2.840.10008.1.2.6.1": true, // RFC 2557 MIME encapsulation (retired)
	"1.2.840.10008.1.2.6.2": true, // XML Encoding (retired)
	"1.2.840.10008.1.20":    true, // Papyrus 3 Implicit VR Little Endian (retired)
}

// storageName matches PS3.4 Annex B naming: "... Storage", optionally
// followed by " - For Presentation", " - For Processing" or " - Trial".
var storageName = regexp.MustCompile(`\bStorage( - (For Presentation|For Processing|Trial))?$`)

// notAnnexB are SOP Classes named like storage classes that are not in PS3.4
// Table B.5-1 (nor its retired predecessors).
var notAnnexB = map[string]string{
	"1.2.840.10008.1.3.10": "Media Storage Directory Storage: PS3.10 DICOMDIR, Media Storage Service Class (PS3.4 Annex I) only",
}

// nonPatient are the SOP Classes of the Non-Patient Object Storage Service
// Class (PS3.4 Table GG.3-1): C-STORE'd, but without the Patient IE at the
// root of their information model, so they are listed apart.
var nonPatient = map[string]bool{
	"1.2.840.10008.5.1.4.38.1":      true, // Hanging Protocol Storage
	"1.2.840.10008.5.1.4.39.1":      true, // Color Palette Storage
	"1.2.840.10008.5.1.4.43.1":      true, // Generic Implant Template Storage
	"1.2.840.10008.5.1.4.44.1":      true, // Implant Assembly Template Storage
	"1.2.840.10008.5.1.4.45.1":      true, // Implant Template Group Storage
	"1.2.840.10008.5.1.4.1.1.200.1": true, // CT Defined Procedure Protocol Storage
	"1.2.840.10008.5.1.4.1.1.200.3": true, // Protocol Approval Storage
	"1.2.840.10008.5.1.4.1.1.200.7": true, // XA Defined Procedure Protocol Storage
	"1.2.840.10008.5.1.4.1.1.201.1": true, // Inventory Storage
}

func main() {
	src := flag.String("src", defaultSrc, "pydicom _uid_dict.py (PS3.6 Table A-1)")
	out := flag.String("out", "zz_generated.go", "output Go file")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("uid/gen: ")

	entries, err := readRegistry(*src)
	if err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.UID] = true
	}
	for _, e := range supplement {
		if !seen[e.UID] {
			entries = append(entries, e)
			seen[e.UID] = true
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return compareUID(a.UID, b.UID) })

	code, err := generate(entries)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		log.Fatal(err)
	}
}

var line = regexp.MustCompile(`^\s*'([0-9.]+)'\s*:\s*\((.*)\)\s*,?\s*(#.*)?$`)

func readRegistry(path string) ([]entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f, err := pyStrings(m[2])
		if err != nil || len(f) != 5 {
			return nil, fmt.Errorf("%s:%d: want 5 strings: %v", path, n, err)
		}
		entries = append(entries, entry{UID: m[1], Name: f[0], Type: f[1], Info: f[2], Retired: f[3] == "Retired", Keyword: f[4]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(entries) < 100 {
		return nil, fmt.Errorf("%s: only %d registry entries: not a UID dictionary?", path, len(entries))
	}
	return entries, nil
}

// pyStrings parses a comma-separated list of Python string literals.
func pyStrings(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return out, nil
		}
		q := s[0]
		if q != '\'' && q != '"' {
			return nil, fmt.Errorf("unexpected %q", s)
		}
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, errors.New("unterminated string")
		}
		out = append(out, b.String())
		s = s[i+1:]
	}
}

// compareUID orders UIDs component by component, numerically.
func compareUID(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.ParseUint(pa[i], 10, 64)
		y, _ := strconv.ParseUint(pb[i], 10, 64)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}

func generate(entries []entry) ([]byte, error) {
	var ts, storage, nonPat, named []entry
	keywords := map[string]string{}
	for _, e := range entries {
		if e.Name != "" {
			named = append(named, e)
		}
		switch {
		case e.Type == "Transfer Syntax" && !notNetworkTS[e.UID]:
			if _, ok := transferSyntaxFlags[e.UID]; !ok {
				return nil, fmt.Errorf("transfer syntax %s (%s) has no entry in transferSyntaxFlags", e.UID, e.Name)
			}
			ts = append(ts, e)
		case e.Type == "SOP Class" && storageName.MatchString(e.Name) && notAnnexB[e.UID] == "":
			if nonPatient[e.UID] {
				nonPat = append(nonPat, e)
			} else {
				storage = append(storage, e)
			}
		default:
			continue
		}
		if !token.IsIdentifier(e.Keyword) || !token.IsExported(e.Keyword) {
			return nil, fmt.Errorf("%s: keyword %q is not an exported Go identifier", e.UID, e.Keyword)
		}
		if prev, dup := keywords[e.Keyword]; dup {
			return nil, fmt.Errorf("keyword %s used by %s and %s", e.Keyword, prev, e.UID)
		}
		keywords[e.Keyword] = e.UID
	}
	for uid := range transferSyntaxFlags {
		if !slices.ContainsFunc(ts, func(e entry) bool { return e.UID == uid }) {
			return nil, fmt.Errorf("transferSyntaxFlags has %s, which the registry lacks", uid)
		}
	}

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// Code generated by gen.go; DO NOT EDIT.\n\n")
	p("package uid\n\n")
	p("// Transfer Syntax UIDs (PS3.6 Table A-1, PS3.5 Section 10 and Annex A).\nconst (\n")
	for _, e := range ts {
		p("\t%s = %q // %s%s\n", e.Keyword, e.UID, e.Name, retiredNote(e))
	}
	p(")\n\n")
	p("// Storage SOP Class UIDs (PS3.4 Table B.5-1, and retired ones of earlier editions).\nconst (\n")
	for _, e := range storage {
		p("\t%s = %q // %s%s\n", e.Keyword, e.UID, e.Name, retiredNote(e))
	}
	p(")\n\n")
	p("// Non-Patient Object Storage SOP Class UIDs (PS3.4 Table GG.3-1).\nconst (\n")
	for _, e := range nonPat {
		p("\t%s = %q // %s%s\n", e.Keyword, e.UID, e.Name, retiredNote(e))
	}
	p(")\n\n")

	p("var transferSyntaxes = [...]TransferSyntax{\n")
	for _, e := range ts {
		f := transferSyntaxFlags[e.UID]
		p("\t{UID: %s, Name: %q, ExplicitVR: %t, BigEndian: %t, Deflated: %t, Encapsulated: %t, Retired: %t, Lossy: %t},\n",
			e.Keyword, e.Name, f.explicitVR, f.bigEndian, f.deflated, f.encapsulated, e.Retired, f.lossy)
	}
	p("}\n\n")
	p("var storageSOPClasses = [...]SOPClass{\n")
	for _, e := range storage {
		p("\t{UID: %s, Name: %q, Retired: %t},\n", e.Keyword, e.Name, e.Retired)
	}
	p("}\n\n")
	p("var nonPatientStorageSOPClasses = [...]SOPClass{\n")
	for _, e := range nonPat {
		p("\t{UID: %s, Name: %q, Retired: %t},\n", e.Keyword, e.Name, e.Retired)
	}
	p("}\n\n")
	p("// registryNames maps every named UID of PS3.6 Table A-1 to its name.\n")
	p("var registryNames = map[string]string{\n")
	for _, e := range named {
		p("\t%q: %q,\n", e.UID, e.Name+retiredNote(e))
	}
	p("}\n")
	return format.Source(b.Bytes())
}

func retiredNote(e entry) string {
	if e.Retired {
		return " (Retired)"
	}
	return ""
}
