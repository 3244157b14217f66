package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"os"
)

// A data file is checked before bbolt opens it, because bbolt trusts what
// it reads: it reads the freelist page and hands out the pages it lists,
// a file written without one (NoFreelistSync) makes it walk every live
// page at open, and a
// truncated file makes that walk touch memory past the end of the mapping
// (a fault that kills the process), while a damaged page makes it panic in
// a goroutine of its own, where no caller can recover. A supervisor would
// restart such a process forever. CheckFile reads the file the way bbolt
// will, through bounds-checked slices, and refuses what bbolt could not
// survive; it never writes.
//
// The rules are bbolt's own (tx_check.go, and what its page accessors
// assume), so that a file bbolt wrote is never refused: the same choice of
// meta page, every page reachable once, inside the high-water mark and of
// the right type, elements and their keys and values inside their page,
// keys in order within and across pages.

// ErrDamagedFile is returned, inside a *FileError, for a data file whose
// structure is damaged.
var ErrDamagedFile = errors.New("data file is damaged")

// ErrEmptyFile is returned by Open for an existing data file of zero bytes
// unless Options.InitEmpty is set: such a file holds no store, and opening
// it as a new one would silently forget every instance the missing data
// held. Open never leaves an empty file behind itself.
var ErrEmptyFile = errors.New("data file is empty")

// emptyError is ErrEmptyFile for one path.
type emptyError struct{ path string }

func (e *emptyError) Error() string        { return fmt.Sprintf("data file %s is empty (0 bytes)", e.path) }
func (e *emptyError) Is(target error) bool { return target == ErrEmptyFile }

// FileError says what is wrong with a data file, and where.
type FileError struct {
	Path    string
	Problem string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("data file %s is damaged: %s", e.Path, e.Problem)
}

// Is makes errors.Is(err, ErrDamagedFile) hold.
func (e *FileError) Is(target error) bool { return target == ErrDamagedFile }

// FileReport describes a data file that passed CheckFile.
type FileReport struct {
	Size     int64  // bytes
	PageSize int    // bytes
	Pages    uint64 // the high-water mark: pages in use, meta pages included
	Txid     uint64 // the last committed transaction
	Meta     int    // the meta page in use, 0 or 1
	// Warnings are problems bbolt recovers from by itself (a torn or
	// damaged meta page when the other one is intact): worth a log line,
	// not a refusal.
	Warnings []string
}

// bbolt's on-disk format (go.etcd.io/bbolt/internal/common).
const (
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elementSize      = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	metaSize         = 64
	bucketHeaderSize = 16 // root pgid u64, sequence u64

	branchPage   = 0x01
	leafPage     = 0x02
	metaPage     = 0x04
	freelistPage = 0x10
	bucketLeaf   = 0x01

	boltMagic     = 0xED0CDAED
	boltVersion   = 2
	noFreelist    = ^uint64(0)
	minPageSize   = 1024
	maxPageSize   = 1 << 30
	firstDataPage = 2 // pages 0 and 1 are the meta pages
)

// CheckFile checks the data file at path without writing to it: its meta
// pages and their checksums, its size against the pages the meta says are
// in use, and every page of the tree those reach. It returns ErrEmptyFile
// for a file of zero bytes, a *FileError (ErrDamagedFile) naming the first
// damage it finds, or another error when the file cannot be read or is in
// use by another process.
func CheckFile(path string) (*FileReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The lock keeps a running Orbit from writing while the file is read:
	// a half-written commit would look like damage.
	if err := lockShared(f, lockTimeout); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, &emptyError{path}
	}
	damaged := func(format string, args ...any) error {
		return &FileError{Path: path, Problem: fmt.Sprintf(format, args...)}
	}
	rep, m, err := readMeta(f, fi.Size())
	if err != nil {
		return nil, damaged("%v", err)
	}
	if m.pgid > uint64(fi.Size())/uint64(m.pageSize) {
		return nil, damaged("it is %d bytes long, but its %d pages in use of %d bytes need %d: it was cut short",
			fi.Size(), m.pgid, m.pageSize, m.pgid*uint64(m.pageSize))
	}
	c := &checker{file: f, pageSize: uint64(m.pageSize), hwm: m.pgid,
		seen: make([]uint64, (m.pgid+63)/64), freed: make([]uint64, (m.pgid+63)/64)}
	if err := c.run(m); err != nil {
		var fault *readFault
		if errors.As(err, &fault) {
			return nil, fmt.Errorf("read data file %s: %w", path, err)
		}
		return nil, damaged("%v", err)
	}
	return rep, nil
}

// meta is the part of a meta page the check uses.
type meta struct {
	pageSize uint32
	root     uint64 // page of the root bucket
	freelist uint64
	pgid     uint64 // high-water mark
	txid     uint64
}

// parseMeta reads the meta that follows a page header in b, checking its
// magic, version and checksum as bbolt's Meta.Validate does.
func parseMeta(b []byte) (meta, error) {
	if len(b) < pageHeaderSize+metaSize {
		return meta{}, errors.New("too short")
	}
	b = b[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	switch {
	case ne.Uint32(b[0:]) != boltMagic:
		return meta{}, errors.New("no bbolt magic number")
	case ne.Uint32(b[4:]) != boltVersion:
		return meta{}, fmt.Errorf("format version %d, not %d", ne.Uint32(b[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != ne.Uint64(b[56:]) {
		return meta{}, errors.New("checksum mismatch")
	}
	return meta{pageSize: ne.Uint32(b[8:]), root: ne.Uint64(b[16:]), freelist: ne.Uint64(b[32:]),
		pgid: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:])}, nil
}

// readMeta picks the meta page bbolt would use: the valid one with the
// higher transaction id. The page size comes from the first valid meta,
// looked for where bbolt looks: page 0 at offset 0, page 1 at offsets of 1
// KiB, 2 KiB ... 16 MiB.
func readMeta(f io.ReaderAt, size int64) (*FileReport, meta, error) {
	read := func(off int64) []byte {
		buf := make([]byte, pageHeaderSize+metaSize)
		n, _ := f.ReadAt(buf, off)
		return buf[:n]
	}
	m0, err0 := parseMeta(read(0))
	pageSize := int64(m0.pageSize)
	if err0 != nil {
		pageSize = int64(os.Getpagesize()) // bbolt's guess too, when no meta page says
		for i := range 15 {
			off := int64(minPageSize) << i
			if off >= size {
				break
			}
			if m, err := parseMeta(read(off)); err == nil && int64(m.pageSize) == off {
				pageSize = off
				break
			}
		}
	} else if pageSize < minPageSize || pageSize > maxPageSize || bits.OnesCount64(uint64(pageSize)) != 1 {
		return nil, meta{}, fmt.Errorf("meta page 0 gives an impossible page size of %d bytes", pageSize)
	}
	m1, err1 := parseMeta(read(pageSize))
	rep := &FileReport{Size: size, PageSize: int(pageSize)}
	var (
		m      meta
		unused error // why the other meta page is not used, when it is invalid
	)
	switch {
	case err0 != nil && err1 != nil:
		return nil, meta{}, fmt.Errorf("both meta pages are invalid (page 0: %v; page 1: %v)", err0, err1)
	case err1 != nil || (err0 == nil && m0.txid > m1.txid):
		m, rep.Meta, unused = m0, 0, err1
	default:
		m, rep.Meta, unused = m1, 1, err0
	}
	if unused != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("meta page %d is invalid (%v), so meta page %d, transaction %d, is used: "+
			"a commit cut off by a power failure leaves this, and the next commit repairs it; otherwise suspect the disk",
			1-rep.Meta, unused, rep.Meta, m.txid))
	}
	if int64(m.pageSize) != pageSize {
		return nil, meta{}, fmt.Errorf("meta page %d gives a page size of %d bytes, the file uses %d", rep.Meta, m.pageSize, pageSize)
	}
	rep.Pages, rep.Txid = m.pgid, m.txid
	switch {
	case m.pgid < firstDataPage+1:
		return nil, meta{}, fmt.Errorf("meta page %d says only %d pages are in use", rep.Meta, m.pgid)
	case m.root < firstDataPage || m.root >= m.pgid:
		return nil, meta{}, fmt.Errorf("meta page %d puts the root bucket at page %d, outside the pages in use (2 to %d)", rep.Meta, m.root, m.pgid-1)
	case m.freelist != noFreelist && (m.freelist < firstDataPage || m.freelist >= m.pgid):
		return nil, meta{}, fmt.Errorf("meta page %d puts the freelist at page %d, outside the pages in use (2 to %d)", rep.Meta, m.freelist, m.pgid-1)
	}
	return rep, m, nil
}

// checker walks the page tree of one meta. It reads each page into a
// buffer of its depth in the walk, with pread rather than through a
// mapping of the file: a page fault on each page cost more than the read
// (the walk goes in tree order, not file order), and a mapping kept the
// pages read resident, the whole file by the walk's end. A page's buffer
// stays intact while the walk is below it, so keys that bound the pages
// below (a parent's, a leaf's before its nested bucket) stay valid.
type checker struct {
	file     io.ReaderAt
	pageSize uint64
	hwm      uint64
	seen     []uint64 // bit per page: reached from the tree or the freelist
	freed    []uint64 // bit per page: listed in the freelist
	depth    int      // of the page tree() reads next: the buffer it uses
	bufs     [][]byte // a page buffer per depth
}

// readFault is a failure to read the file: an I/O error, or the
// file shrank while it was read. It is not evidence of damage.
type readFault struct{ err error }

func (f *readFault) Error() string { return fmt.Sprintf("reading the file failed: %v", f.err) }

func (c *checker) run(m meta) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("checking it failed unexpectedly: %v", r)
		}
	}()
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	if _, err := c.tree(m.root, nil, nil); err != nil {
		return fmt.Errorf("root bucket: %w", err)
	}
	return nil
}

func testBit(set []uint64, i uint64) bool { return set[i/64]&(1<<(i%64)) != 0 }
func setBit(set []uint64, i uint64)       { set[i/64] |= 1 << (i % 64) }

// page returns page id with its overflow pages, after checking that it is
// inside the pages in use, says it is page id, and was not reached before.
func (c *checker) page(id uint64) (p []byte, flags, count uint16, err error) {
	if id < firstDataPage || id >= c.hwm {
		return nil, 0, 0, fmt.Errorf("page %d is referenced, outside the pages in use (2 to %d)", id, c.hwm-1)
	}
	p, err = c.read(id, 1)
	if err != nil {
		return nil, 0, 0, err
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(p); got != id {
		return nil, 0, 0, fmt.Errorf("page %d says it is page %d", id, got)
	}
	flags, count = ne.Uint16(p[8:]), ne.Uint16(p[10:])
	overflow := uint64(ne.Uint32(p[12:]))
	if overflow >= c.hwm-id {
		return nil, 0, 0, fmt.Errorf("page %d has %d overflow pages, past the pages in use (%d)", id, overflow, c.hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if testBit(c.seen, i) {
			return nil, 0, 0, fmt.Errorf("page %d is referenced twice", i)
		}
		setBit(c.seen, i)
	}
	if overflow > 0 {
		if p, err = c.read(id, overflow+1); err != nil {
			return nil, 0, 0, err
		}
	}
	return p, flags, count, nil
}

// read reads n pages from page id into the buffer of the walk's depth.
func (c *checker) read(id, n uint64) ([]byte, error) {
	for len(c.bufs) <= c.depth {
		c.bufs = append(c.bufs, nil)
	}
	size := n * c.pageSize
	if uint64(cap(c.bufs[c.depth])) < size {
		c.bufs[c.depth] = make([]byte, size)
	}
	b := c.bufs[c.depth][:size]
	if _, err := c.file.ReadAt(b, int64(id*c.pageSize)); err != nil {
		// The size was checked against the pages in use: a short read
		// means the file changed or the disk failed, not damage.
		return nil, &readFault{fmt.Errorf("page %d: %w", id, err)}
	}
	return b, nil
}

// freelist checks a freelist page (files whose freelist was synced) and
// records the pages it lists, which the tree must not use.
func (c *checker) freelist(id uint64) error {
	p, flags, count, err := c.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if flags != freelistPage {
		return fmt.Errorf("freelist page %d has type flags %#x, not a freelist's", id, flags)
	}
	ne := binary.NativeEndian
	start, n := uint64(pageHeaderSize), uint64(count)
	if count == 0xFFFF { // the count is too large for the header: it is the first element
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("freelist page %d is too short for its count", id)
		}
		start, n = pageHeaderSize+8, ne.Uint64(p[pageHeaderSize:])
	}
	if n > (uint64(len(p))-start)/8 {
		return fmt.Errorf("freelist page %d lists %d pages, more than it holds", id, n)
	}
	for i := range n {
		free := ne.Uint64(p[start+i*8:])
		if free < firstDataPage || free >= c.hwm {
			return fmt.Errorf("freelist page %d lists page %d, outside the pages in use", id, free)
		}
		if testBit(c.freed, free) {
			return fmt.Errorf("freelist page %d lists page %d twice", id, free)
		}
		setBit(c.freed, free)
	}
	return nil
}

// tree checks the pages of one bucket under page id, whose keys must lie
// in [min, max) (nil: unbounded), as bbolt's key-order check requires. It
// returns the largest key under it.
func (c *checker) tree(id uint64, min, max []byte) ([]byte, error) {
	c.depth++
	defer func() { c.depth-- }()
	p, flags, count, err := c.page(id)
	if err != nil {
		return nil, err
	}
	if testBit(c.freed, id) {
		return nil, fmt.Errorf("page %d is in use and listed as free", id)
	}
	switch flags {
	case branchPage:
		return c.branch(id, p, int(count), min, max)
	case leafPage:
		return c.leaf(site{page: id}, p, int(count), min, max)
	default:
		return nil, fmt.Errorf("page %d has type flags %#x where a branch or leaf page belongs", id, flags)
	}
}

func (c *checker) branch(id uint64, p []byte, count int, min, max []byte) ([]byte, error) {
	if count == 0 {
		return nil, fmt.Errorf("branch page %d has no elements", id)
	}
	if uint64(pageHeaderSize+count*elementSize) > uint64(len(p)) {
		return nil, fmt.Errorf("branch page %d says it has %d elements, more than fit in it", id, count)
	}
	ne := binary.NativeEndian
	keys := make([][]byte, count)
	children := make([]uint64, count)
	for i := range count {
		e := pageHeaderSize + i*elementSize
		pos, ksize := uint64(ne.Uint32(p[e:])), uint64(ne.Uint32(p[e+4:]))
		if uint64(e)+pos+ksize > uint64(len(p)) {
			return nil, fmt.Errorf("branch page %d: key %d lies past the end of the page", id, i)
		}
		keys[i] = p[uint64(e)+pos : uint64(e)+pos+ksize]
		children[i] = ne.Uint64(p[e+8:])
	}
	running := min
	var last []byte
	for i := range count {
		if err := keyInOrder(i, keys[i], running, max); err != nil {
			return nil, fmt.Errorf("branch page %d: %w", id, err)
		}
		upper := max
		if i < count-1 {
			upper = keys[i+1]
		}
		var err error
		if last, err = c.tree(children[i], keys[i], upper); err != nil {
			return nil, err
		}
		running = last
	}
	return last, nil
}

// site names where a leaf lies, for messages: a page, or the inline page of
// a small bucket inside a value on that page.
type site struct {
	page   uint64
	bucket []byte // nil: the page itself
}

func (s site) String() string {
	if s.bucket == nil {
		return fmt.Sprintf("page %d", s.page)
	}
	return fmt.Sprintf("page %d, in inline bucket %s", s.page, printable(s.bucket))
}

// leaf checks a leaf's elements, which lie in p (a page, or an inline
// page), and the buckets nested in it.
func (c *checker) leaf(where site, p []byte, count int, min, max []byte) ([]byte, error) {
	if uint64(pageHeaderSize+count*elementSize) > uint64(len(p)) {
		return nil, fmt.Errorf("leaf %s says it has %d elements, more than fit in it", where, count)
	}
	ne := binary.NativeEndian
	prev := min
	var key []byte
	for i := range count {
		e := uint64(pageHeaderSize + i*elementSize)
		flags, pos := ne.Uint32(p[e:]), uint64(ne.Uint32(p[e+4:]))
		ksize, vsize := uint64(ne.Uint32(p[e+8:])), uint64(ne.Uint32(p[e+12:]))
		if e+pos+ksize+vsize > uint64(len(p)) {
			return nil, fmt.Errorf("leaf %s: element %d (%d-byte key, %d-byte value) lies past the end of the page", where, i, ksize, vsize)
		}
		key = p[e+pos : e+pos+ksize]
		if err := keyInOrder(i, key, prev, max); err != nil {
			return nil, fmt.Errorf("leaf %s: %w", where, err)
		}
		prev = key
		if flags&bucketLeaf != 0 {
			if err := c.bucket(where, key, p[e+pos+ksize:e+pos+ksize+vsize]); err != nil {
				return nil, err
			}
		}
	}
	return key, nil
}

// bucket checks a nested bucket: its own page tree, or its inline page.
func (c *checker) bucket(where site, name, v []byte) error {
	if len(v) < bucketHeaderSize {
		return fmt.Errorf("leaf %s: bucket %s has a %d-byte header, not %d", where, printable(name), len(v), bucketHeaderSize)
	}
	root := binary.NativeEndian.Uint64(v)
	if root != 0 {
		if _, err := c.tree(root, nil, nil); err != nil {
			return fmt.Errorf("bucket %s: %w", printable(name), err)
		}
		return nil
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		return fmt.Errorf("leaf %s: inline bucket %s is too short for a page", where, printable(name))
	}
	if flags := binary.NativeEndian.Uint16(inline[8:]); flags != leafPage {
		return fmt.Errorf("leaf %s: inline bucket %s has type flags %#x, not a leaf's", where, printable(name), flags)
	}
	count := int(binary.NativeEndian.Uint16(inline[10:]))
	_, err := c.leaf(site{page: where.page, bucket: name}, inline, count, nil, nil)
	return err
}

// keyInOrder is bbolt's verifyKeyOrder: the first key of a page is at
// least the bound its parent sets, every other key exceeds the one before
// (for a branch: the largest key under the previous child), and all are
// below the next key of the parent.
func keyInOrder(i int, key, prev, max []byte) error {
	if i == 0 && prev != nil && bytes.Compare(prev, key) > 0 {
		return fmt.Errorf("key %d (%s) sorts before the key that leads to its page (%s)", i, printable(key), printable(prev))
	}
	if i > 0 && bytes.Compare(prev, key) >= 0 {
		return fmt.Errorf("key %d (%s) does not sort after the key before it (%s)", i, printable(key), printable(prev))
	}
	if max != nil && bytes.Compare(key, max) >= 0 {
		return fmt.Errorf("key %d (%s) does not sort before the next key of its parent (%s)", i, printable(key), printable(max))
	}
	return nil
}

// printable quotes a key for a message, cut to a length a person reads.
func printable(k []byte) string {
	const most = 40
	if len(k) > most {
		return fmt.Sprintf("%q…", k[:most])
	}
	return fmt.Sprintf("%q", k)
}
