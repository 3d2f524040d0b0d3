package config

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]Size{
		"0": 0, "1048576": MiB, "1MiB": MiB, "1 MiB": MiB, "64KiB": 64 * KiB, "64kib": 64 * KiB, "4GiB": 4 * GiB,
		"2TiB": 2 * TiB, "8MB": 8e6, "1kB": 1000, "1GB": 1e9, "3TB": 3e12, "512B": 512, "1_000": 1000, "2k": 2048, " 7m ": 7 * MiB,
	}
	for s, want := range good {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "MiB", "1.5MiB", "1 XB", "1e6", "9223372036854775808", "9000000TiB", "0x10"} {
		if got, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want error", s, got)
		}
	}
}

func TestSizeStringRoundTrip(t *testing.T) {
	for _, s := range []Size{0, 1, 1000, KiB, 1536, MiB, 64 * MiB, 4 * GiB, TiB, 3*GiB + 1} {
		text, _ := s.MarshalText()
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("%d → %q → %d, %v", s, text, back, err)
		}
	}
	if MiB.String() != "1MiB" || Size(1536).String() != "1536" || (64*KiB).String() != "64KiB" {
		t.Errorf("String: %s %s", MiB, Size(1536))
	}
}
