package worksync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
)

func sampleRecord(name string) *record {
	w := makeWork(name, "uid-"+name, 3,
		makeConfigMap("shop", name).binding("b-"+name).obj(),
		makeConfigMap("shop", name+"-dep").dependency().obj())
	manifests, _ := parseManifests(&w.Spec)
	return &record{Name: name, UID: w.UID, ResourceVersion: "42", Generation: 3, Spec: w.Spec,
		Inventory: mergeInventory(nil, manifests)}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := openStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []*record{sampleRecord("a.web"), sampleRecord("b.api"), sampleRecord("cluster-wide")}
	want[1].Deleted = true
	for _, r := range want {
		if err := s.put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.delete("cluster-wide"); err != nil {
		t.Fatal(err)
	}
	want = want[:2]
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	s, err = openStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	got, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(record{}, "SavedAt"), cmp.AllowUnexported(inventoryEntry{})); diff != "" {
		t.Errorf("records after reopening (-want +got):\n%s", diff)
	}
	if got[0].SavedAt.IsZero() || got[0].Version != recordVersion {
		t.Errorf("record not stamped: version %d, saved at %s", got[0].Version, got[0].SavedAt)
	}
}

// TestStoreDurableWhenPutReturns copies the database file while it is
// still open, as a crash right after put would leave it: the record is
// there.
func TestStoreDurableWhenPutReturns(t *testing.T) {
	dir := t.TempDir()
	s, err := openStore(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.put(sampleRecord("a.web")); err != nil {
		t.Fatal(err)
	}
	if s.db.NoSync {
		t.Fatal("the store must fsync each write")
	}
	b, err := os.ReadFile(filepath.Join(dir, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, StoreFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := openStore(crashed, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	got, err := c.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "a.web" {
		t.Fatalf("records in the crashed copy: %+v", got)
	}
}

func TestStoreRefusals(t *testing.T) {
	t.Run("a second agent on the same directory", func(t *testing.T) {
		dir := t.TempDir()
		s, err := openStore(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		if _, err := openStore(dir, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "another agent") {
			t.Fatalf("second open: %v, want a lock error", err)
		}
	})
	t.Run("a corrupt file is an error, not an empty store", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StoreFile), []byte(strings.Repeat("not a bbolt file ", 512)), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := openStore(dir, time.Second); err == nil {
			_ = s.close()
			t.Fatal("opened a corrupt store")
		}
	})
	t.Run("a record of an unknown format", func(t *testing.T) {
		dir := t.TempDir()
		s, err := openStore(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketWorks).Put([]byte("x"), []byte(`{"version":99,"name":"x"}`))
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.list(); err == nil {
			t.Fatal("listed a record of format 99")
		}
	})
	t.Run("an engine refuses a store it cannot read", func(t *testing.T) {
		dir := t.TempDir()
		s, err := openStore(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketWorks).Put([]byte("x"), []byte(`{garbage`))
		}); err != nil {
			t.Fatal(err)
		}
		_ = s.close()
		o := Options{Cluster: "test", StateDir: dir}
		_ = o.defaults()
		if err := newEngine(o, nil, nil, newFakeCluster()).resume(); err == nil {
			t.Fatal("resumed from an unreadable store")
		}
	})
}
