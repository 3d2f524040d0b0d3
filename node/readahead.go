package node

import (
	"context"
	"time"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/archive/index"
)

// readAheadDepth is how many instances of a C-MOVE or C-GET may be read,
// or being read, ahead of the sub-operation being sent. A retrieve
// therefore holds at most readAheadDepth+1 decoded instances, each in
// memory up to the archive's MemoryLimit or else in a spool file
// (archive.Object). They are read one at a time: two readers measured no
// faster on two cores, where decoding and sending already share the CPU
// (again in session 3: 10–25 % slower, the destination storescp on the
// same machine getting less of it).
const readAheadDepth = 2

// openedInstance is an instance read from the archive for its
// sub-operation: obj, or the error of archive.Open, and how long the read
// took (part of the sub-operation's limits.operation_timeout).
type openedInstance struct {
	rec  *index.InstanceRecord
	obj  *archive.Object
	err  error
	took time.Duration
}

// close releases the decoded instance, if any; it may be called again.
func (o *openedInstance) close() {
	if o.obj != nil {
		_ = o.obj.Close()
		o.obj = nil
	}
}

// readAhead reads the instances of a retrieve (PS3.4 C.4.2.3, C.4.3.3)
// from the archive on its own goroutine, in order, while the caller sends
// the previous ones, so that the archive's decoding (shares, AES-GCM,
// decompression, SHA-256) overlaps the network. The caller takes them in
// order with next and must call stop when done, whatever happened. A
// readAhead is used by one goroutine.
type readAhead struct {
	// ready holds the instances read and not yet taken; the reading
	// goroutine holds at most one more.
	ready  chan openedInstance
	done   chan struct{} // closed when the reading goroutine has ended
	cancel context.CancelFunc
}

// startReadAhead starts reading recs. Each read is bounded by
// limits.operation_timeout; reading stops when ctx ends (C-CANCEL) or stop
// is called.
func (n *Node) startReadAhead(ctx context.Context, recs []*index.InstanceRecord) *readAhead {
	ctx, cancel := context.WithCancel(ctx)
	r := &readAhead{ready: make(chan openedInstance, readAheadDepth-1), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		defer close(r.ready)
		for _, rec := range recs {
			if ctx.Err() != nil {
				return
			}
			in := n.openInstance(ctx, rec)
			select {
			case r.ready <- in:
			case <-ctx.Done():
				in.close()
				return
			}
		}
	}()
	return r
}

// next returns the next instance in the order of the records; ok is false
// when ctx ended first or every instance was taken. The caller owns
// (closes) what it gets.
func (r *readAhead) next(ctx context.Context) (in openedInstance, ok bool) {
	select {
	case in, ok = <-r.ready:
		return in, ok
	case <-ctx.Done():
		return openedInstance{}, false
	}
}

// stop ends the reading, closes every instance read and not taken, and
// returns once the reading goroutine has ended.
func (r *readAhead) stop() {
	r.cancel()
	for in := range r.ready {
		in.close()
	}
	<-r.done
}

// openInstance reads one instance from the archive within
// limits.operation_timeout.
func (n *Node) openInstance(ctx context.Context, rec *index.InstanceRecord) openedInstance {
	start := time.Now()
	if t := n.cfg.Limits.OperationTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	obj, err := n.arch.OpenRecord(ctx, rec)
	return openedInstance{rec: rec, obj: obj, err: err, took: time.Since(start)}
}
