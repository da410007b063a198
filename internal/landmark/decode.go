package landmark

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// decoder reads dlib's serialization format (dlib/serialize.h): every
// integer is a control byte (low nibble = number of little-endian payload
// bytes, 0x80 = negative for signed types) followed by that many bytes; every
// float is a signed 64-bit mantissa and a signed 16-bit exponent, both so
// encoded, meaning mantissa·2^exponent.
//
// It keeps its own buffer rather than using bufio so that the hot path (one
// integer = a few bytes) is a slice index, not a method call per byte: the
// 68-point model holds millions of floats.
type decoder struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64 // bytes consumed before buf[pos]
	size     int64 // total input size when known, else -1
	what     string
}

func newDecoder(r io.Reader, size int64) *decoder {
	return &decoder{r: r, buf: make([]byte, 64<<10), size: size}
}

var (
	// errTruncated is wrapped by every error caused by the input ending early.
	errTruncated = errors.New("truncated")
	// errControl is wrapped by errors about a byte that cannot start an
	// integer: the first sign of a file that is not a dlib object at all.
	errControl = errors.New("bad integer control byte")
)

// fill makes at least n (≤ len(buf)) bytes available unless the input ends.
func (d *decoder) fill(n int) error {
	if d.end-d.pos >= n {
		return nil
	}
	copy(d.buf, d.buf[d.pos:d.end])
	d.off += int64(d.pos)
	d.end -= d.pos
	d.pos = 0
	for empty := 0; d.end < n; {
		k, err := d.r.Read(d.buf[d.end:])
		d.end += k
		switch {
		case d.end >= n:
			return nil
		case err == io.EOF:
			return d.fail(errTruncated)
		case err != nil:
			return d.fail(err)
		case k == 0:
			// Guard against a reader that keeps returning (0, nil), as
			// bufio does.
			if empty++; empty == 100 {
				return d.fail(io.ErrNoProgress)
			}
		}
	}
	return nil
}

// offset is the position of the next unread byte.
func (d *decoder) offset() int64 { return d.off + int64(d.pos) }

// remaining is how many bytes are left when the input size is known, else -1.
func (d *decoder) remaining() int64 {
	if d.size < 0 {
		return -1
	}
	return d.size - d.offset()
}

func (d *decoder) fail(err error) error {
	return fmt.Errorf("%s at byte %d: %w", d.what, d.offset(), err)
}

func (d *decoder) failf(format string, args ...any) error {
	return d.fail(fmt.Errorf(format, args...))
}

// payload reads the n little-endian bytes after a control byte.
func (d *decoder) payload(n int) (uint64, error) {
	if err := d.fill(n); err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(d.buf[d.pos+i])
	}
	d.pos += n
	return v, nil
}

func (d *decoder) control() (byte, error) {
	if d.pos == d.end {
		if err := d.fill(1); err != nil {
			return 0, err
		}
	}
	c := d.buf[d.pos]
	d.pos++
	return c, nil
}

// uint reads an unsigned integer of at most width bytes (dlib's unpack_int
// for unsigned types: the 0x80 bit is kept in the size, so a "negative"
// unsigned value is an error, and the three reserved bits are ignored).
func (d *decoder) uint(width int) (uint64, error) {
	c, err := d.control()
	if err != nil {
		return 0, err
	}
	n := int(c & 0x8f)
	if n == 0 || n > width {
		d.pos--
		return 0, d.failf("%w 0x%02x", errControl, c)
	}
	return d.payload(n)
}

// int reads a signed integer of at most width bytes.
func (d *decoder) int(width int) (int64, error) {
	c, err := d.control()
	if err != nil {
		return 0, err
	}
	n := int(c & 0x0f)
	if n == 0 || n > width {
		d.pos--
		return 0, d.failf("%w 0x%02x", errControl, c)
	}
	u, err := d.payload(n)
	if err != nil {
		return 0, err
	}
	// Truncate to the C type's width as dlib's shifts into T do.
	var v int64
	switch width {
	case 2:
		v = int64(int16(u))
	case 4:
		v = int64(int32(u))
	default:
		v = int64(u)
	}
	if c&0x80 != 0 {
		v = -v
	}
	return v, nil
}

// Special exponents of dlib's float_details.
const (
	expInf    = 32000
	expNegInf = 32001
)

// float32 reads a float as dlib deserialises into a C++ float:
// ldexpf((float)mantissa, exponent). A shape predictor's values are finite,
// so infinities and NaNs are refused rather than carried into the cascade.
func (d *decoder) float32() (float32, error) {
	if v, ok := d.fastFloat32(); ok {
		return v, nil
	}
	if err := d.fill(1); err != nil {
		return 0, err
	}
	if c := d.buf[d.pos]; c&0x70 != 0 {
		// dlib's pre-2013 text encoding; no shape predictor was ever shipped in it.
		return 0, d.failf("bad float control byte 0x%02x (old text encoding is not supported)", c)
	}
	start := d.offset()
	m, err := d.int(8)
	if err != nil {
		return 0, err
	}
	e, err := d.int(2)
	if err != nil {
		return 0, err
	}
	if e >= expInf {
		kind := "NaN"
		switch e {
		case expInf:
			kind = "+Inf"
		case expNegInf:
			kind = "-Inf"
		}
		return 0, fmt.Errorf("%s at byte %d: non-finite value %s", d.what, start, kind)
	}
	// Rounding the mantissa to float32 first and scaling exactly in float64
	// afterwards gives the single rounding that ldexpf does for every value
	// that is a normal float32.
	v := float32(math.Ldexp(float64(float32(m)), int(e)))
	if math.IsInf(float64(v), 0) {
		return 0, fmt.Errorf("%s at byte %d: value %d·2^%d overflows float32", d.what, start, m, e)
	}
	return v, nil
}

// fastFloat32 decodes the common case, a finite normal float whose 12-byte
// worst-case encoding is already buffered, without per-field calls; it
// leaves everything else (and every error) to float32's general path.
// Loading the 68-point model is mostly this function.
func (d *decoder) fastFloat32() (float32, bool) {
	if d.end-d.pos < 12 {
		if d.fill(12) != nil {
			return 0, false
		}
	}
	b := d.buf[d.pos : d.pos+12 : d.pos+12]
	c := b[0]
	n := int(c & 0x0f)
	if c&0x70 != 0 || n == 0 || n > 8 {
		return 0, false
	}
	var u uint64
	for i := n; i >= 1; i-- {
		u = u<<8 | uint64(b[i])
	}
	m := int64(u)
	if c&0x80 != 0 {
		m = -m
	}
	ce := b[n+1]
	ne := int(ce & 0x0f)
	if ne == 0 || ne > 2 {
		return 0, false
	}
	ue := uint16(b[n+2])
	if ne == 2 {
		ue |= uint16(b[n+3]) << 8
	}
	e := int(int16(ue))
	if ce&0x80 != 0 {
		e = -e
	}
	if e < -1000 || e > 1000 {
		return 0, false
	}
	// float32(m) is C's (float)mantissa; scaling it by a power of two in
	// float64 is exact here, so the final conversion is ldexpf's one rounding.
	v := float32(float64(float32(m)) * math.Float64frombits(uint64(e+1023)<<52))
	if math.IsInf(float64(v), 0) {
		return 0, false
	}
	d.pos += n + 2 + ne
	return v, true
}

// count reads a std::vector length (an unsigned long) and checks it against
// the largest size this model format can sensibly have.
func (d *decoder) count(limit uint64) (int, error) {
	start := d.offset()
	n, err := d.uint(8)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("%s at byte %d: count %d exceeds the limit %d", d.what, start, n, limit)
	}
	return int(n), nil
}

// capHint is the capacity to reserve for n items of at least minBytes
// encoded bytes each: never more than the rest of the input can hold, so a
// corrupted count cannot make us allocate memory the data does not back.
// With an input of unknown size the slice grows as items actually arrive.
func (d *decoder) capHint(n int, minBytes int64) int {
	rem := d.remaining()
	if rem < 0 {
		return min(n, 1<<12)
	}
	return int(min(int64(n), rem/minBytes))
}
