package guestassets

import (
	"errors"
	"fmt"
	"io"
)

// newc cpio ("070701"), the format the kernel unpacks an initramfs from.
// Each entry is a 110-byte ASCII header of 13 eight-digit hex fields, the
// NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes.
const (
	newcMagic   = "070701"
	newcTrailer = "TRAILER!!!"
	headerLen   = 110
)

// File type bits of a cpio mode (the same as Linux's S_IF*).
const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeChar = 0o020000
)

// cpioEntry is one archive member.
type cpioEntry struct {
	name                 string // relative, no leading slash
	mode                 uint32 // type bits | permissions
	size                 int64
	rdevMajor, rdevMinor uint32
}

// cpioWriter writes a newc archive. Owners are root and times are zero, so
// equal input gives byte-identical archives.
type cpioWriter struct {
	w      io.Writer
	ino    uint32
	remain int64  // data bytes the current entry still expects
	pad    string // padding owed after the current entry's data
	err    error
}

func newCPIOWriter(w io.Writer) *cpioWriter { return &cpioWriter{w: w} }

// writeHeader starts an entry; its data (e.size bytes) follows through Write.
func (c *cpioWriter) writeHeader(e cpioEntry) error {
	if c.err != nil {
		return c.err
	}
	if c.remain != 0 {
		return c.fail(fmt.Errorf("cpio: %d bytes missing before %s", c.remain, e.name))
	}
	if e.name == "" || e.name[0] == '/' {
		return c.fail(fmt.Errorf("cpio: bad entry name %q", e.name))
	}
	if e.size < 0 || e.size > 0xffffffff {
		return c.fail(fmt.Errorf("cpio: %s: size %d out of range", e.name, e.size))
	}
	if err := c.flushPad(); err != nil {
		return err
	}
	c.ino++
	nlink := uint32(1)
	if e.mode&modeDir == modeDir {
		nlink = 2
	}
	if e.name == newcTrailer {
		c.ino, nlink = 0, 1
	}
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		newcMagic, c.ino, e.mode, 0, 0, nlink, 0, e.size, 0, 0,
		e.rdevMajor, e.rdevMinor, len(e.name)+1, 0)
	name := e.name + "\x00"
	if _, err := io.WriteString(c.w, hdr+name+align4(int64(headerLen+len(name)))); err != nil {
		return c.fail(err)
	}
	c.remain = e.size
	c.pad = align4(e.size)
	return nil
}

// Write adds data to the current entry.
func (c *cpioWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.remain {
		return 0, c.fail(errors.New("cpio: write beyond entry size"))
	}
	n, err := c.w.Write(p)
	c.remain -= int64(n)
	if err != nil {
		return n, c.fail(err)
	}
	return n, nil
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if err := c.writeHeader(cpioEntry{name: newcTrailer}); err != nil {
		return err
	}
	return c.flushPad()
}

func (c *cpioWriter) flushPad() error {
	if c.pad != "" {
		if _, err := io.WriteString(c.w, c.pad); err != nil {
			return c.fail(err)
		}
		c.pad = ""
	}
	return nil
}

func (c *cpioWriter) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return c.err
}

// align4 returns the NULs that bring a length of n up to a multiple of 4.
func align4(n int64) string {
	return "\x00\x00\x00"[:(4-n%4)%4]
}
