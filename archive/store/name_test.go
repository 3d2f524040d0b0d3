package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestValidName(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 2)
	tests := []struct {
		name string
		ok   bool
	}{
		{good, true},
		{strings.Repeat("f", NameLen), true},
		{"", false},
		{good[:NameLen-1], false},
		{good + "0", false},
		{strings.ToUpper(good), false},
		{"../" + good[3:], false},
		{good[:NameLen-1] + "/", false},
		{good[:NameLen-1] + ".", false},
		{good[:NameLen-1] + "g", false},
		{good[:NameLen-1] + "\x00", false},
		{good[:NameLen-2] + "é", false}, // 2 bytes, right length, not hex
	}
	for _, tc := range tests {
		if got := ValidName(tc.name); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
		if err := CheckName(tc.name); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidName)) {
			t.Errorf("CheckName(%q) = %v", tc.name, err)
		}
	}
}

func TestNewName(t *testing.T) {
	n, err := NewName(bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)))
	if err != nil || n != strings.Repeat("ab", 16) || !ValidName(n) {
		t.Fatalf("NewName = %q, %v", n, err)
	}
	if _, err := NewName(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Fatal("NewName with failing rand: want error")
	}
}

func TestErrorShape(t *testing.T) {
	e := NewError("put", stringer("fs:/x"), "ab", ErrExists)
	if !errors.Is(e, ErrExists) || e.Error() != "store: put fs:/x ab: store: object already exists" {
		t.Fatalf("got %q", e.Error())
	}
	e = NewError("list", stringer("fs:/x"), "", errors.New("io"))
	if e.Error() != "store: list fs:/x: io" {
		t.Fatalf("got %q", e.Error())
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
