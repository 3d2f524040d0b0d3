package index

import "context"

// ObjectIDs returns the object ID (hex, as recorded) of every indexed
// instance, for the collection of shred keys whose instance is gone.
// Take it after listing what is to be collected, as with ObjectNames.
func (db *DB) ObjectIDs(ctx context.Context) (map[string]bool, error) {
	if err := db.readable(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, "SELECT object_id FROM instance")
	if err != nil {
		return nil, db.queryErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, db.queryErr(ctx, err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, db.queryErr(ctx, err)
	}
	return out, nil
}
