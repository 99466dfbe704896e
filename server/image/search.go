package image

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/docker/docker/api/types/registry"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// searchFilterKeys are the filters `docker search` accepts.
var searchFilterKeys = map[string]bool{"is-automated": true, "is-official": true, "stars": true}

// getImagesSearch is `docker search`: the index the term names is asked
// (see engine/image Search), then filtered as dockerd does: is-official,
// stars (at least the largest value given), is-automated=true finds
// nothing (automated builds are gone). A header X-Registry-Auth that does
// not decode is ignored.
func (r *Router) getImagesSearch(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var limit int
	if v := req.FormValue("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("invalid limit specified: %w", err))
		}
		// A negative limit goes on to the range check, as in dockerd.
		limit = n
	}
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	if err := args.Validate(searchFilterKeys); err != nil {
		return errdefs.InvalidParameter(err)
	}
	automated, err := args.GetBoolOrDefault("is-automated", false)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	official, err := args.GetBoolOrDefault("is-official", false)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	minStars := 0
	for _, v := range args.Get("stars") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("invalid filter 'stars=%s': %w", v, err))
		}
		minStars = max(minStars, n)
	}
	out := []registry.SearchResult{}
	if automated {
		return httputils.WriteJSON(w, http.StatusOK, out)
	}
	auth, _ := decodeAuth(req.Header.Get("X-Registry-Auth"))
	results, err := r.backend.Images().Search(req.Context(), req.FormValue("term"), limit, auth)
	if err != nil {
		return err
	}
	for _, res := range results {
		if (args.Contains("is-official") && res.IsOfficial != official) || (args.Contains("stars") && res.StarCount < minStars) {
			continue
		}
		out = append(out, registry.SearchResult{Name: res.Name, Description: res.Description, StarCount: res.StarCount, IsOfficial: res.IsOfficial})
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
