module github.com/facesynth/facesynth

go 1.26.8
