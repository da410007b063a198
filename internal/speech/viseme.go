package speech

// Mouth is the mouth shape for one video frame.
type Mouth struct {
	Open   float64 // 0 closed .. 1 widest jaw/lip opening in normal speech
	Width  float64 // -1 rounded/pursed (oo, w) .. 0 rest .. +1 spread (ee, smile-like)
	Round  float64 // 0..1 lip protrusion/rounding
	Closed bool    // lips pressed (p, b, m)
}

// viseme is the mouth a phone aims for and how strongly it insists on it,
// in the manner of Cohen and Massaro's dominance functions: each phone's
// pull on a parameter is weight·exp(−d/reach), d being the time to the
// phone (0 inside it), and the mouth at any moment is the pull-weighted
// mean of the targets. Separate weights for the opening and for the lip
// shape let a /b/ win the jaw from the vowels around it (the lips must
// meet) while borrowing its lip shape from them: the lips are already
// round through the b of "boot".
type viseme struct {
	open, width, round float64
	closed             bool
	openWeight         float64
	shapeWeight        float64
	reach              float64 // seconds
}

// Weights: vowels set the jaw; consonants made with the tongue alone
// (t, k, n, h) barely constrain the lips and take the vowels' shape;
// lip consonants dominate for a short reach; rounding (w, uw, sh)
// spreads far, as speakers round early for a coming /w/ or /uw/.
var (
	vowel = func(open, width, round float64) viseme {
		return viseme{open: open, width: width, round: round, openWeight: 1, shapeWeight: 1, reach: 0.04}
	}
	tongue = func(open, width float64) viseme {
		return viseme{open: open, width: width, openWeight: 0.35, shapeWeight: 0.15, reach: 0.02}
	}
	bilabial    = viseme{closed: true, openWeight: 12, shapeWeight: 0.3, reach: 0.015}
	labiodental = viseme{open: 0.08, width: 0.15, openWeight: 6, shapeWeight: 2, reach: 0.015}
	postalveol  = viseme{open: 0.18, width: -0.5, round: 0.6, openWeight: 1.5, shapeWeight: 2.5, reach: 0.05}
	silence     = viseme{openWeight: 1.5, shapeWeight: 0.8, reach: 0.06}
)

var visemes = map[string]viseme{
	"AA": vowel(1.0, 0.1, 0),
	"AE": vowel(0.85, 0.45, 0),
	"AH": vowel(0.6, 0.1, 0),
	"AO": vowel(0.8, -0.45, 0.5),
	"EH": vowel(0.65, 0.45, 0),
	"ER": vowel(0.4, -0.25, 0.45),
	"IH": vowel(0.4, 0.6, 0),
	"IY": vowel(0.25, 0.9, 0),
	"UH": vowel(0.35, -0.6, 0.7),
	"UW": {open: 0.2, width: -1, round: 1, openWeight: 1, shapeWeight: 2.5, reach: 0.07},

	"P": bilabial, "B": bilabial, "M": bilabial,
	"F": labiodental, "V": labiodental,
	"TH": {open: 0.22, width: 0.2, openWeight: 1.5, shapeWeight: 0.5, reach: 0.02},
	"DH": {open: 0.22, width: 0.2, openWeight: 1.5, shapeWeight: 0.5, reach: 0.02},
	"SH": postalveol, "ZH": postalveol, "CH": postalveol, "JH": postalveol,
	"S": {open: 0.1, width: 0.45, openWeight: 1.2, shapeWeight: 0.4, reach: 0.02},
	"Z": {open: 0.1, width: 0.45, openWeight: 1.2, shapeWeight: 0.4, reach: 0.02},
	"T": tongue(0.2, 0.3), "D": tongue(0.2, 0.3), "N": tongue(0.2, 0.3),
	"L": tongue(0.3, 0.2), "K": tongue(0.3, 0.1), "G": tongue(0.3, 0.1),
	"NG": tongue(0.25, 0.1), "HH": tongue(0.4, 0),
	"R": {open: 0.25, width: -0.4, round: 0.5, openWeight: 0.8, shapeWeight: 1.5, reach: 0.04},
	"W": {open: 0.12, width: -0.9, round: 0.9, openWeight: 2, shapeWeight: 3, reach: 0.07},
	"Y": {open: 0.2, width: 0.6, openWeight: 0.8, shapeWeight: 1, reach: 0.03},

	Silence: silence,
	// Unclear speech: a middling mouth that defers to its neighbours; the
	// energy envelope decides how open it really is.
	Unclear: {open: 0.45, openWeight: 0.3, shapeWeight: 0.2, reach: 0.03},
}

// diphthongs glide from one vowel to another; the first target holds a
// little longer than the second, as in measured formant tracks.
var diphthongs = map[string][2]string{
	"AW": {"AA", "UH"},
	"AY": {"AA", "IY"},
	"EY": {"EH", "IY"},
	"OW": {"AO", "UW"},
	"OY": {"AO", "IY"},
}

const diphthongSplit = 0.55

// Target is the mouth shape phone symbol aims for when said alone and
// held; unknown symbols give the rest mouth. For a diphthong it is the
// shape it starts from.
func Target(symbol string) Mouth {
	if d, ok := diphthongs[symbol]; ok {
		symbol = d[0]
	}
	v, ok := visemes[symbol]
	if !ok {
		return Mouth{}
	}
	return Mouth{Open: v.open, Width: v.width, Round: v.round, Closed: v.closed}
}

// segment is a stretch of time with one viseme: a phone, or half a diphthong.
type segment struct {
	start, end float64
	v          viseme
}

// segments expands phones into viseme segments; unknown symbols are
// treated as unclear speech.
func segments(phones []Phone) []segment {
	segs := make([]segment, 0, len(phones)+8)
	for _, p := range phones {
		if p.End <= p.Start {
			continue
		}
		if d, ok := diphthongs[p.Symbol]; ok {
			mid := p.Start + diphthongSplit*(p.End-p.Start)
			segs = append(segs, segment{p.Start, mid, visemes[d[0]]}, segment{mid, p.End, visemes[d[1]]})
			continue
		}
		v, ok := visemes[p.Symbol]
		if !ok {
			v = visemes[Unclear]
		}
		segs = append(segs, segment{p.Start, p.End, v})
	}
	return segs
}
