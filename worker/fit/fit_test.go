package fit

import (
	"strings"
	"testing"
)

func TestParseReadsTheList(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Box
		prefixes string
	}{
		{"a bare size is contain", "64x64", []Box{{64, 64, Contain, false}}, "64x64"},
		{"each item takes its own mode", "64x64, 256x256:cover,1024x1024:contain",
			[]Box{{64, 64, Contain, false}, {256, 256, Cover, false}, {1024, 1024, Contain, false}}, "64x64 256x256-cover 1024x1024"},
		{"fill and pad are modes", "10x20:fill,30x40:pad", []Box{{10, 20, Fill, false}, {30, 40, Pad, false}}, "10x20-fill 30x40-pad"},
		{"enlarge follows the mode or the size", "32x32:pad:enlarge,16x16:enlarge",
			[]Box{{32, 32, Pad, true}, {16, 16, Contain, true}}, "32x32-pad-enlarge 16x16-enlarge"},
		{"contain and enlarged contain are different sizes", "64x64,64x64:enlarge",
			[]Box{{64, 64, Contain, false}, {64, 64, Contain, true}}, "64x64 64x64-enlarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Parse(%q) = %v; want %v", tt.in, got, tt.want)
			}
			var prefixes []string
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Parse(%q)[%d] = %+v; want %+v", tt.in, i, got[i], tt.want[i])
				}
				prefixes = append(prefixes, got[i].Prefix())
			}
			if p := strings.Join(prefixes, " "); p != tt.prefixes {
				t.Errorf("prefixes of %q = %q; want %q", tt.in, p, tt.prefixes)
			}
			again, err := Parse(Format(got))
			if err != nil || Format(again) != Format(got) {
				t.Errorf("Parse(Format(%v)) = %v, %v; want the same list", got, again, err)
			}
		})
	}
}

func TestParseRefusesWhatItCannotMake(t *testing.T) {
	tests := []struct{ name, in, says string }{
		{"an empty list", " ", "no size"},
		{"a size without x", "64", `"64"`},
		{"a side of zero", "0x64", "from 1 to 4096"},
		{"a side over the bound", "64x4097", "from 1 to 4096"},
		{"an unknown mode", "64x64:crop", `"crop" is not a mode`},
		{"a mode after enlarge", "64x64:enlarge:cover", `"cover" is not a mode`},
		{"two modes", "64x64:cover:pad", `"pad" is not a mode`},
		{"the same size twice", "64x64,256x256:cover,64x64:contain", "listed twice"},
		{"more than 8 sizes", "1x1,2x2,3x3,4x4,5x5,6x6,7x7,8x8,9x9", "at most 8"},
		{"an empty item", "64x64,,32x32", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Parse(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.says)
			}
		})
	}
}

func TestPlanGivesEachModeItsGeometry(t *testing.T) {
	tests := []struct {
		name string
		box  string
		w, h int
		want Plan
	}{
		{"contain fits a 4:3 photo in the box", "64x64", 4000, 3000,
			Plan{ScaleW: 64, ScaleH: 48, Crop: Rect{0, 0, 64, 48}, CanvasW: 64, CanvasH: 48}},
		{"contain fits a portrait by its height", "64x64", 3000, 4000,
			Plan{ScaleW: 48, ScaleH: 64, Crop: Rect{0, 0, 48, 64}, CanvasW: 48, CanvasH: 64}},
		{"contain leaves a small image as it is", "64x64", 40, 30,
			Plan{ScaleW: 40, ScaleH: 30, Crop: Rect{0, 0, 40, 30}, CanvasW: 40, CanvasH: 30}},
		{"contain with enlarge grows a small image to the box", "64x64:enlarge", 40, 30,
			Plan{ScaleW: 64, ScaleH: 48, Crop: Rect{0, 0, 64, 48}, CanvasW: 64, CanvasH: 48}},
		{"cover scales a 4:3 photo to the box's height and crops the centre", "256x256:cover", 4000, 3000,
			Plan{ScaleW: 341, ScaleH: 256, Crop: Rect{42, 0, 298, 256}, CanvasW: 256, CanvasH: 256}},
		{"cover scales a portrait to the box's width and crops the centre", "100x50:cover", 300, 400,
			Plan{ScaleW: 100, ScaleH: 133, Crop: Rect{0, 41, 100, 91}, CanvasW: 100, CanvasH: 50}},
		{"cover crops a small image without enlarging it", "64x64:cover", 80, 30,
			Plan{ScaleW: 80, ScaleH: 30, Crop: Rect{8, 0, 72, 30}, CanvasW: 64, CanvasH: 30}},
		{"fill stretches to the box", "64x64:fill", 4000, 3000,
			Plan{ScaleW: 64, ScaleH: 64, Crop: Rect{0, 0, 64, 64}, CanvasW: 64, CanvasH: 64}},
		{"fill never stretches a side beyond the image", "64x64:fill", 100, 30,
			Plan{ScaleW: 64, ScaleH: 30, Crop: Rect{0, 0, 64, 30}, CanvasW: 64, CanvasH: 30}},
		{"pad centres the contained image on the whole box", "64x64:pad", 4000, 3000,
			Plan{ScaleW: 64, ScaleH: 48, Crop: Rect{0, 0, 64, 48}, CanvasW: 64, CanvasH: 64, OffsetY: 8}},
		{"pad centres a small image unenlarged", "64x64:pad", 41, 30,
			Plan{ScaleW: 41, ScaleH: 30, Crop: Rect{0, 0, 41, 30}, CanvasW: 64, CanvasH: 64, OffsetX: 11, OffsetY: 17}},
		{"a 1x1 image stays 1x1 in contain", "64x64", 1, 1,
			Plan{ScaleW: 1, ScaleH: 1, Crop: Rect{0, 0, 1, 1}, CanvasW: 1, CanvasH: 1}},
		{"a 10000x1 line keeps a pixel of height", "64x64", 10000, 1,
			Plan{ScaleW: 64, ScaleH: 1, Crop: Rect{0, 0, 64, 1}, CanvasW: 64, CanvasH: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := MustParse(tt.box)[0]
			if got := b.Plan(tt.w, tt.h); got != tt.want {
				t.Errorf("%s.Plan(%d, %d) = %+v;\nwant %+v", tt.box, tt.w, tt.h, got, tt.want)
			}
		})
	}
}
