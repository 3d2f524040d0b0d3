package uid

import (
	"slices"
	"strings"
	"testing"
)

func TestTransferSyntaxFlags(t *testing.T) {
	type flags struct{ explicit, big, deflated, encap, retired, lossy bool }
	tests := []struct {
		uid  string
		want flags
	}{
		{ImplicitVRLittleEndian, flags{}},
		{ExplicitVRLittleEndian, flags{explicit: true}},
		{ExplicitVRBigEndian, flags{explicit: true, big: true, retired: true}},
		{DeflatedExplicitVRLittleEndian, flags{explicit: true, deflated: true}},
		{EncapsulatedUncompressedExplicitVRLittleEndian, flags{explicit: true, encap: true}},
		{JPEGBaseline8Bit, flags{explicit: true, encap: true, lossy: true}},
		{JPEGExtended12Bit, flags{explicit: true, encap: true, lossy: true}},
		{JPEGExtended35, flags{explicit: true, encap: true, retired: true, lossy: true}},
		{JPEGLossless, flags{explicit: true, encap: true}},
		{JPEGLosslessSV1, flags{explicit: true, encap: true}},
		{JPEGLSLossless, flags{explicit: true, encap: true}},
		{JPEGLSNearLossless, flags{explicit: true, encap: true, lossy: true}},
		{JPEG2000Lossless, flags{explicit: true, encap: true}},
		{JPEG2000, flags{explicit: true, encap: true, lossy: true}},
		{JPEG2000MCLossless, flags{explicit: true, encap: true}},
		{JPEG2000MC, flags{explicit: true, encap: true, lossy: true}},
		{JPIPReferenced, flags{explicit: true, lossy: true}},
		{JPIPReferencedDeflate, flags{explicit: true, deflated: true, lossy: true}},
		{MPEG2MPML, flags{explicit: true, encap: true, lossy: true}},
		{MPEG4HP41, flags{explicit: true, encap: true, lossy: true}},
		{HEVCM10P51, flags{explicit: true, encap: true, lossy: true}},
		{HTJ2KLossless, flags{explicit: true, encap: true}},
		{HTJ2KLosslessRPCL, flags{explicit: true, encap: true}},
		{HTJ2K, flags{explicit: true, encap: true, lossy: true}},
		{JPEGXLLossless, flags{explicit: true, encap: true}},
		{JPEGXL, flags{explicit: true, encap: true, lossy: true}},
		{RLELossless, flags{explicit: true, encap: true}},
		{DeflatedImageFrameCompression, flags{explicit: true, encap: true}},
	}
	for _, tt := range tests {
		ts, ok := LookupTransferSyntax(tt.uid)
		if !ok {
			t.Errorf("LookupTransferSyntax(%q) not found", tt.uid)
			continue
		}
		got := flags{ts.ExplicitVR, ts.BigEndian, ts.Deflated, ts.Encapsulated, ts.Retired, ts.Lossy}
		if got != tt.want {
			t.Errorf("%s (%s): flags %+v, want %+v", tt.uid, ts.Name, got, tt.want)
		}
		if ts.UID != tt.uid || ts.Name == "" || ts.String() != ts.Name {
			t.Errorf("%s: bad UID/Name %+v", tt.uid, ts)
		}
	}
}

func TestTransferSyntaxesComplete(t *testing.T) {
	// Every syntax the brief lists as "a modality may send".
	want := []string{
		"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
		"1.2.840.10008.1.2.1.98", "1.2.840.10008.1.2.5",
		"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
		"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
		"1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95",
		"1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
		"1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112",
		"1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102",
		"1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
		"1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108",
		"1.2.840.10008.1.2.7.1", "1.2.840.10008.1.2.7.2", "1.2.840.10008.1.2.7.3",
	}
	for n := 52; n <= 66; n++ { // the retired JPEG processes and 4.57
		want = append(want, "1.2.840.10008.1.2.4."+itoa(n))
	}
	for _, u := range want {
		if _, ok := LookupTransferSyntax(u); !ok {
			t.Errorf("transfer syntax %s missing", u)
		}
	}
	for _, u := range []string{"1.2.840.10008.1.2.6.1", "1.2.840.10008.1.2.6.2", "1.2.840.10008.1.20"} {
		if _, ok := LookupTransferSyntax(u); ok {
			t.Errorf("document encoding %s must not be a network transfer syntax", u)
		}
		if Name(u) == "" {
			t.Errorf("Name(%s) empty: it is in the registry", u)
		}
	}
	checkSortedUnique(t, "TransferSyntaxes", len(TransferSyntaxes), func(i int) string { return TransferSyntaxes[i].UID })
	for _, ts := range TransferSyntaxes {
		if ts.BigEndian && ts.UID != ExplicitVRBigEndian {
			t.Errorf("%s: only Explicit VR Big Endian is big endian", ts.UID)
		}
		if !ts.ExplicitVR && ts.UID != ImplicitVRLittleEndian {
			t.Errorf("%s: only Implicit VR Little Endian is implicit", ts.UID)
		}
	}
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func TestLookupTransferSyntaxUnknown(t *testing.T) {
	for _, u := range []string{
		"", "1.2.840.10008.1.2.4", "1.2.840.10008.1.2.4.50\x00", " 1.2.840.10008.1.2", "1.2.840.10008.1.2.4.999",
		VerificationSOPClass, CTImageStorage, "not a uid",
	} {
		if ts, ok := LookupTransferSyntax(u); ok {
			t.Errorf("LookupTransferSyntax(%q) = %+v, true; want false", u, ts)
		}
	}
	if _, ok := LookupTransferSyntax(Trim("1.2.840.10008.1.2.4.50\x00")); !ok {
		t.Error("Trim did not remove the NUL pad")
	}
}

func TestNativeTransferSyntaxes(t *testing.T) {
	got := NativeTransferSyntaxes()
	want := []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian}
	if !slices.Equal(got, want) {
		t.Fatalf("NativeTransferSyntaxes() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if NativeTransferSyntaxes()[0] != ExplicitVRLittleEndian {
		t.Error("NativeTransferSyntaxes returns shared storage")
	}
	for _, ts := range TransferSyntaxes {
		native := !ts.Encapsulated && !ts.Deflated && !strings.HasPrefix(ts.UID, "1.2.840.10008.1.2.7.") &&
			!strings.HasPrefix(ts.Name, "JPIP")
		if native != ts.Native() {
			t.Errorf("%s (%s): Native() = %t, want %t", ts.UID, ts.Name, ts.Native(), native)
		}
	}
}

func TestStorageSOPClasses(t *testing.T) {
	if n := len(StorageSOPClasses); n < 100 {
		t.Fatalf("only %d storage SOP classes", n)
	}
	must := map[string]string{
		"1.2.840.10008.5.1.4.1.1.2":        "CT Image Storage",
		"1.2.840.10008.5.1.4.1.1.2.1":      "Enhanced CT Image Storage",
		"1.2.840.10008.5.1.4.1.1.4":        "MR Image Storage",
		"1.2.840.10008.5.1.4.1.1.3.1":      "Ultrasound Multi-frame Image Storage",
		"1.2.840.10008.5.1.4.1.1.7":        "Secondary Capture Image Storage",
		"1.2.840.10008.5.1.4.1.1.12.1":     "X-Ray Angiographic Image Storage",
		"1.2.840.10008.5.1.4.1.1.128":      "Positron Emission Tomography Image Storage",
		"1.2.840.10008.5.1.4.1.1.481.2":    "RT Dose Storage",
		"1.2.840.10008.5.1.4.1.1.481.5":    "RT Plan Storage",
		"1.2.840.10008.5.1.4.1.1.481.3":    "RT Structure Set Storage",
		"1.2.840.10008.5.1.4.1.1.88.11":    "Basic Text SR Storage",
		"1.2.840.10008.5.1.4.1.1.104.1":    "Encapsulated PDF Storage",
		"1.2.840.10008.5.1.4.1.1.9.1.1":    "12-lead ECG Waveform Storage",
		"1.2.840.10008.5.1.4.1.1.1.1":      "Digital X-Ray Image Storage - For Presentation",
		"1.2.840.10008.5.1.4.1.1.1.1.1":    "Digital X-Ray Image Storage - For Processing",
		"1.2.840.10008.5.1.4.1.1.6.3":      "Photoacoustic Image Storage", // from the supplement
		"1.2.840.10008.5.1.4.1.1.481.24":   "Enhanced Continuous RT Image Storage",
		"1.2.840.10008.5.1.4.1.1.77.1.6":   "VL Whole Slide Microscopy Image Storage",
		"1.2.840.10008.5.1.4.1.1.66.4":     "Segmentation Storage",
		"1.2.840.10008.5.1.4.34.7":         "RT Beams Delivery Instruction Storage",
		"1.2.840.10008.5.1.4.1.1.501.1":    "DICOS CT Image Storage",
		"1.2.840.10008.5.1.4.1.1.601.1":    "Eddy Current Image Storage",
		"1.2.840.10008.5.1.4.1.1.200.2":    "CT Performed Procedure Protocol Storage",
		"1.2.840.10008.5.1.4.1.1.88.59":    "Key Object Selection Document Storage",
		"1.2.840.10008.5.1.4.1.1.11.1":     "Grayscale Softcopy Presentation State Storage",
		"1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image Storage",
	}
	byUID := map[string]SOPClass{}
	for _, c := range StorageSOPClasses {
		byUID[c.UID] = c
	}
	for u, name := range must {
		c, ok := byUID[u]
		if !ok || !IsStorageSOPClass(u) {
			t.Errorf("storage SOP class %s (%s) missing", u, name)
			continue
		}
		if c.Name != name || c.Retired {
			t.Errorf("%s: got %+v, want name %q, not retired", u, c, name)
		}
	}
	retired := map[string]bool{"1.2.840.10008.5.1.4.1.1.6": true, "1.2.840.10008.5.1.4.1.1.5": true, "1.2.840.10008.5.1.4.1.1.3": true}
	for u := range retired {
		if c, ok := byUID[u]; !ok || !c.Retired || !IsStorageSOPClass(u) {
			t.Errorf("retired storage class %s: got %+v, %t", u, c, ok)
		}
	}
	mustNot := []string{
		VerificationSOPClass, StorageCommitmentPushModel, "1.2.840.10008.1.20.2", // commitment pull
		"1.2.840.10008.1.3.10",     // Media Storage Directory Storage
		"1.2.840.10008.4.2",        // Storage Service Class
		"1.2.840.10008.5.1.1.27",   // Stored Print Storage SOP Class
		"1.2.840.10008.5.1.1.29",   // Hardcopy Grayscale Image Storage SOP Class
		"1.2.840.10008.5.1.4.38.1", // Hanging Protocol Storage: Annex GG
		"1.2.840.10008.5.1.4.1.1.201.1",
		PatientRootQRFind, StudyRootQRMove, StudyRootQRGet, ExplicitVRLittleEndian,
		"", "1.2.840.10008.5.1.4.1.1.2\x00", "1.2.840.10008.5.1.4.1.1",
	}
	for _, u := range mustNot {
		if IsStorageSOPClass(u) {
			t.Errorf("IsStorageSOPClass(%q) = true", u)
		}
		if _, ok := byUID[u]; ok {
			t.Errorf("StorageSOPClasses contains %q", u)
		}
	}
	checkSortedUnique(t, "StorageSOPClasses", len(StorageSOPClasses), func(i int) string { return StorageSOPClasses[i].UID })
	for _, c := range StorageSOPClasses {
		if !strings.Contains(c.Name, "Storage") || strings.HasSuffix(c.Name, "SOP Class") || c.String() != c.Name {
			t.Errorf("odd storage class name %+v", c)
		}
	}
}

func TestNonPatientStorageSOPClasses(t *testing.T) {
	if len(NonPatientStorageSOPClasses) < 9 {
		t.Fatalf("got %d non-patient storage classes, want ≥ 9", len(NonPatientStorageSOPClasses))
	}
	for _, c := range NonPatientStorageSOPClasses {
		if IsStorageSOPClass(c.UID) {
			t.Errorf("%s is in both tables", c.UID)
		}
	}
	checkSortedUnique(t, "NonPatientStorageSOPClasses", len(NonPatientStorageSOPClasses),
		func(i int) string { return NonPatientStorageSOPClasses[i].UID })
}

func TestName(t *testing.T) {
	tests := map[string]string{
		CTImageStorage:                  "CT Image Storage",
		VerificationSOPClass:            "Verification SOP Class",
		StudyRootQRMove:                 "Study Root Query/Retrieve Information Model - MOVE",
		PatientRootQRGet:                "Patient Root Query/Retrieve Information Model - GET",
		ExplicitVRBigEndian:             "Explicit VR Big Endian (Retired)",
		HTJ2K:                           "High-Throughput JPEG 2000 Image Compression",
		StorageCommitmentPushModel:      "Storage Commitment Push Model SOP Class",
		"1.2.840.10008.3.1.1.1":         "DICOM Application Context Name",
		"1.2.840.10008.5.1.4.1.1.12.77": "", // registered without a name
		"1.2.3.4":                       "",
		"":                              "",
	}
	for u, want := range tests {
		if got := Name(u); got != want {
			t.Errorf("Name(%q) = %q, want %q", u, got, want)
		}
	}
	for _, ts := range TransferSyntaxes {
		if !strings.HasPrefix(Name(ts.UID), ts.Name) {
			t.Errorf("Name(%s) = %q, want prefix %q", ts.UID, Name(ts.UID), ts.Name)
		}
	}
	for _, c := range StorageSOPClasses {
		if !strings.HasPrefix(Name(c.UID), c.Name) {
			t.Errorf("Name(%s) = %q, want prefix %q", c.UID, Name(c.UID), c.Name)
		}
	}
}

func TestCompareUIDOrder(t *testing.T) {
	// Spot check of the generator's numeric ordering as seen in the output.
	idx := func(u string) int {
		return slices.IndexFunc(TransferSyntaxes, func(ts TransferSyntax) bool { return ts.UID == u })
	}
	if !(idx(JPEGLosslessSV1) < idx(MPEG2MPML) && idx(MPEG2MPML) < idx(MPEG2MPMLF) && idx(MPEG2MPMLF) < idx(MPEG2MPHL)) {
		t.Error("transfer syntaxes not in numeric UID order")
	}
}

// checkSortedUnique checks UIDs are unique, non-empty and in numeric
// component order.
func checkSortedUnique(t *testing.T, what string, n int, uid func(int) string) {
	t.Helper()
	seen := map[string]bool{}
	for i := range n {
		u := uid(i)
		if u == "" || seen[u] {
			t.Errorf("%s: empty or duplicate UID %q", what, u)
		}
		seen[u] = true
		if i > 0 && compareUIDs(uid(i-1), u) >= 0 {
			t.Errorf("%s: %s before %s", what, uid(i-1), u)
		}
	}
}

func compareUIDs(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) - len(pb[i])
		}
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}
