package image

import (
	"errors"

	"github.com/pier-vm/pier/engine/platform"
)

// History lists a local image's history; see API. It follows dockerd: one
// item per entry of the config's history, newest first; an entry that made
// a layer gets that layer's uncompressed size, an empty_layer entry 0; the
// newest carries the image's ID and tags, the older ones "<missing>" (their
// intermediate images are not stored).
func (s *Service) History(ref string, plat *platform.Platform) ([]HistoryItem, error) {
	img, err := s.Resolve(ref, plat)
	if err != nil {
		return nil, err
	}
	return historyOf(img)
}

// historyOf builds the history of img from its config and layer sizes.
func historyOf(img *Image) ([]HistoryItem, error) {
	out := []HistoryItem{}
	layer := 0
	for _, h := range img.Config.History {
		item := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.Created.IsZero() {
			item.Created = h.Created.Time
		}
		if !h.EmptyLayer {
			if layer >= len(img.Layers) {
				return nil, errors.New("too many non-empty layers in History section")
			}
			item.Size = img.Layers[layer].DiffSize
			layer++
		}
		out = append([]HistoryItem{item}, out...)
	}
	if len(out) > 0 {
		out[0].ID = img.ID
		out[0].Tags = append([]string(nil), img.RepoTags...)
	}
	return out, nil
}
