package dimse

import "os"

// Defaults used for zero fields of [Limits].
const (
	DefaultMaxCommandSize         = 64 << 10 // 64 KiB
	DefaultMaxDataSetSize         = 4 << 30  // 4 GiB
	DefaultMaxIdentifierSize      = 1 << 20  // 1 MiB
	DefaultMaxFragments           = 1 << 20  // 1,048,576 PDVs per message
	DefaultMinAverageFragmentSize = 512      // bytes, once past FragmentGrace
	DefaultSpoolThreshold         = 8 << 20  // 8 MiB

	// FragmentGrace is how many fragments a message may have before the
	// average-size rule (Limits.MinAverageFragmentSize) applies.
	FragmentGrace = 64
)

// Limits bounds what a [MessageReader] accepts and how it stores data sets.
// The zero value gives the documented defaults; fields are read, never
// written back.
//
// Breaking MaxCommandSize, MaxFragments or MinAverageFragmentSize is a
// protocol error (A-ABORT reason 6, invalid-PDU-parameter-value, adversarial
// row 15). Breaking a data set cap is not: the message is drained and
// reported with ErrDataSetTooLarge so the service can answer 0xA700.
type Limits struct {
	// MaxCommandSize is the largest command set, in bytes, summed over its
	// fragments. 0 means DefaultMaxCommandSize (64 KiB); real command sets
	// are a few hundred bytes.
	MaxCommandSize int

	// MaxDataSetSize caps the data set of a C-STORE-RQ (the instance being
	// stored). 0 means DefaultMaxDataSetSize (4 GiB).
	MaxDataSetSize int64

	// MaxIdentifierSize caps the data set of every other message (C-FIND /
	// C-GET / C-MOVE identifiers, C-FIND responses...). 0 means
	// DefaultMaxIdentifierSize (1 MiB).
	MaxIdentifierSize int64

	// MaxFragments caps the PDVs (command and data) of one message. 0 means
	// DefaultMaxFragments (2^20: a 2 GiB data set in 2 KiB fragments).
	MaxFragments int

	// MinAverageFragmentSize: once a message has more than FragmentGrace
	// fragments, its bytes divided by its fragments must stay at or above
	// this, which stops floods of tiny PDVs (10^6 one-byte fragments are
	// refused at the 65th) while allowing any honest peer, which fills its
	// fragments up to the PDU size. 0 means DefaultMinAverageFragmentSize
	// (512); negative disables the rule.
	MinAverageFragmentSize int

	// SpoolThreshold is how many bytes of a data set are kept in memory;
	// past it, the data set moves to a temporary file in SpoolDir. 0 means
	// DefaultSpoolThreshold (8 MiB); negative means never spool.
	SpoolThreshold int64

	// SpoolDir is where spool files are created (os.CreateTemp). "" means
	// os.TempDir().
	SpoolDir string
}

func (l *Limits) maxCommandSize() int {
	if l.MaxCommandSize <= 0 {
		return DefaultMaxCommandSize
	}
	return l.MaxCommandSize
}

// maxDataSetSize returns the data set cap for a message with command field cf.
func (l *Limits) maxDataSetSize(cf CommandField) int64 {
	if cf == CStoreRQ {
		if l.MaxDataSetSize <= 0 {
			return DefaultMaxDataSetSize
		}
		return l.MaxDataSetSize
	}
	if l.MaxIdentifierSize <= 0 {
		return DefaultMaxIdentifierSize
	}
	return l.MaxIdentifierSize
}

func (l *Limits) maxFragments() int {
	if l.MaxFragments <= 0 {
		return DefaultMaxFragments
	}
	return l.MaxFragments
}

func (l *Limits) minAverageFragmentSize() int {
	if l.MinAverageFragmentSize == 0 {
		return DefaultMinAverageFragmentSize
	}
	return max(l.MinAverageFragmentSize, 0)
}

func (l *Limits) spoolThreshold() int64 {
	switch {
	case l.SpoolThreshold == 0:
		return DefaultSpoolThreshold
	case l.SpoolThreshold < 0:
		return -1
	}
	return l.SpoolThreshold
}

func (l *Limits) spoolDir() string {
	if l.SpoolDir == "" {
		return os.TempDir()
	}
	return l.SpoolDir
}
