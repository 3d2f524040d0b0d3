package dcm

import dtag "github.com/suyashkumar/dicom/pkg/tag"

// DictionaryVR returns the value representation of t in the data
// dictionary (PS3.6 §6), as used to read Implicit VR data sets
// (PS3.5 §7.1.3). Group lengths (gggg,0000) are "UL"; private tags and tags
// missing from the dictionary are "UN"; the item and delimitation tags have
// no VR and return "". When the dictionary allows several VRs (for example
// "OB or OW", "US or SS") the first listed is returned.
func DictionaryVR(t Tag) string {
	if t.Group() == 0xFFFE {
		return ""
	}
	if t.Element() == 0 {
		return "UL"
	}
	if t.IsPrivate() {
		return "UN"
	}
	info, err := dtag.Find(dtag.Tag{Group: t.Group(), Element: t.Element()})
	if err != nil || len(info.VRs) == 0 {
		return "UN"
	}
	return info.VRs[0]
}

func dictionaryKeyword(t Tag) string {
	info, err := dtag.Find(dtag.Tag{Group: t.Group(), Element: t.Element()})
	if err != nil {
		return ""
	}
	return info.Keyword
}
