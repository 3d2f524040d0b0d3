package main

import (
	"flag"

	"github.com/shardpacs/shardpacs/archive/index"
)

// levelFlags are the --patient / --study / --series / --instance flags of
// the archive commands that act on one entity of the hierarchy.
type levelFlags struct{ patient, study, series, instance string }

func (l *levelFlags) register(fs *flag.FlagSet, verb string) {
	fs.StringVar(&l.patient, "patient", "", verb+" every instance of the patient with this `ID`")
	fs.StringVar(&l.study, "study", "", verb+" the study with this Study Instance `UID`")
	fs.StringVar(&l.series, "series", "", verb+" the series with this Series Instance `UID`")
	fs.StringVar(&l.instance, "instance", "", verb+" the instance with this SOP Instance `UID`")
}

// selected returns the one level given and its key; ok is false unless
// exactly one flag was set.
func (l *levelFlags) selected() (level index.Level, key string, ok bool) {
	n := 0
	for _, c := range []struct {
		l index.Level
		v string
	}{{index.LevelPatient, l.patient}, {index.LevelStudy, l.study}, {index.LevelSeries, l.series}, {index.LevelImage, l.instance}} {
		if c.v != "" {
			level, key = c.l, c.v
			n++
		}
	}
	return level, key, n == 1
}
