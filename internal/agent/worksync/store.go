package worksync

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/types"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// StoreFile is the name of the agent's database in Options.StateDir.
const StoreFile = "works.db"

// bucketWorks holds one record per Work, keyed by the Work's name.
var bucketWorks = []byte("works")

// recordVersion is the format of a stored record. A record of another
// version is refused rather than misread.
const recordVersion = 1

// record is what the agent keeps of one Work across restarts: the last spec
// the hub gave it, and every object it may have put in the cluster for it.
type record struct {
	Version int `json:"version"`
	// Name, UID, ResourceVersion and Generation identify the Work on the
	// hub as last seen.
	Name            string                `json:"name"`
	UID             types.UID             `json:"uid"`
	ResourceVersion string                `json:"resourceVersion"`
	Generation      int64                 `json:"generation"`
	Spec            workv1alpha1.WorkSpec `json:"spec"`
	// Deleted is set when the hub said the Work is gone: a watch event, or
	// a successful list without it. Its objects are being removed; the
	// record goes when they are.
	Deleted bool `json:"deleted,omitempty"`
	// Inventory lists every object a spec of this Work has named since the
	// last complete prune, written before they are applied, so that an
	// object is never forgotten by a crash between its apply and the
	// record's next write.
	Inventory []inventoryEntry `json:"inventory,omitempty"`
	SavedAt   time.Time        `json:"savedAt"`
}

// store is the agent's on-disk desired state: a bbolt database with one
// bucket, a JSON record per Work. Every write is one transaction, fsync'd
// before it returns.
type store struct {
	db *bolt.DB
}

// openStore opens (or creates) the database in dir. It fails when another
// process holds it, after lockTimeout.
func openStore(dir string, lockTimeout time.Duration) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, StoreFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: another agent holds it", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketWorks)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &store{db: db}, nil
}

// put writes r, replacing the record of the same name.
func (s *store) put(r *record) error {
	r.Version = recordVersion
	r.SavedAt = time.Now().UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorks).Put([]byte(r.Name), b)
	})
}

// delete removes the record of a Work.
func (s *store) delete(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorks).Delete([]byte(name))
	})
}

// list returns every record, by name.
func (s *store) list() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorks).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			if r.Version != recordVersion {
				return fmt.Errorf("record %q has format %d; this agent reads %d", k, r.Version, recordVersion)
			}
			out = append(out, r)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func (s *store) close() error { return s.db.Close() }
