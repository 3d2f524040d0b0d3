package index

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestLookupStatementsPreparedOnce: the hot-path lookups run on statements
// prepared once per DB (rstmt), from any number of goroutines, and stay
// right across writes to the tables they read.
func TestLookupStatementsPreparedOnce(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	recs := loadDataset(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				r := recs[(g+i)%len(recs)]
				got, err := db.Lookup(ctx, r.SOPInstanceUID)
				if err != nil || got.ObjectID != r.ObjectID {
					errs <- errors.Join(errors.New("lookup "+r.SOPInstanceUID), err)
					return
				}
				if _, err := db.Lookup(ctx, "1.2.3.404."+r.SOPInstanceUID); !errors.Is(err, ErrNotFound) {
					errs <- errors.Join(errors.New("missing uid not ErrNotFound"), err)
					return
				}
				in, err := db.Instances(ctx, LevelSeries, r.SeriesInstanceUID)
				if err != nil || len(in) == 0 {
					errs <- errors.Join(errors.New("instances of "+r.SeriesInstanceUID), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db.rmu.Lock()
	n := len(db.rstmts)
	db.rmu.Unlock()
	if n != 2 {
		t.Errorf("%d reader statements prepared, want 2 (Lookup, Instances by series)", n)
	}

	// A delete between two lookups: the prepared statement sees it.
	if _, err := db.Delete(ctx, recs[0].SOPInstanceUID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Lookup(ctx, recs[0].SOPInstanceUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup after Delete: %v, want ErrNotFound", err)
	}
	if got, err := db.Lookup(ctx, recs[1].SOPInstanceUID); err != nil || got.ObjectID != recs[1].ObjectID {
		t.Errorf("Lookup of a kept instance after Delete: %v", err)
	}
}
