module github.com/facesynth/facesynth

go 1.23.0

require github.com/esimov/pigo v1.4.6

require golang.org/x/image v0.28.0
