package thumb

// HEIC and AVIF, both ISO base media files (HEIF) told apart by their brands, are recognised and
// refused: the decoders without cgo need seconds and hundreds of megabytes for one phone photo.
var (
	avifFormat = format{
		name:    "avif",
		match:   func(data []byte) bool { return has(data, 4, "ftyp") && isoBrand(data) == "avif" },
		refused: heifRefusal("AVIF"),
	}
	heicFormat = format{
		name:    "heic",
		match:   func(data []byte) bool { return has(data, 4, "ftyp") && isoBrand(data) == "heic" },
		refused: heifRefusal("HEIC"),
	}
)

func heifRefusal(name string) string {
	return name + " is refused: the decoders without cgo need seconds and hundreds of megabytes " +
		"for one phone photo, beyond the worker's bounds; upload it as JPEG"
}

// isoBrand names the image format of an ISO base media file (HEIF family) from its major and
// compatible brands; it returns "" for other ISO files such as MP4 video.
func isoBrand(data []byte) string {
	size := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	if size < 16 || size > len(data) {
		size = min(len(data), 64)
	}
	var brands []string
	for off := 8; off+4 <= size; off += 4 {
		if off == 12 {
			continue // minor version
		}
		brands = append(brands, string(data[off:off+4]))
	}
	for _, b := range brands {
		switch b {
		case "avif", "avis":
			return "avif"
		}
	}
	for _, b := range brands {
		switch b {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return "heic"
		}
	}
	return ""
}
