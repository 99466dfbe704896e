package image

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// hubIndex is Docker Hub's search index, where a term without a registry
// host goes (dockerd's IndexServer).
const hubIndex = "https://index.docker.io/v1/"

// searchTimeout bounds one search.
const searchTimeout = 30 * time.Second

// Search asks an index's v1 search; see API. It follows dockerd: the term's
// first component is the index when it looks like a host (has a dot or a
// colon, or is localhost), Docker Hub's otherwise ("library/" is dropped
// there); GET INDEX/v1/search?q=REST&n=LIMIT over HTTPS, or plain HTTP for an
// insecure registry (loopback, --insecure-registry), with basic
// credentials when some are given. Errors are dockerd's: a term with a
// scheme or a limit outside [1, 100] is invalid (400); an index that cannot
// be reached is the transport's error and an answer other than 200 is
// "Unexpected status code N" (both 500, as in dockerd). Most registries
// have no v1 search (distribution answers 404).
func (s *Service) Search(ctx context.Context, term string, limit int, auth *Auth) ([]SearchResult, error) {
	if strings.HasPrefix(term, "http://") || strings.HasPrefix(term, "https://") {
		return nil, errdefs.InvalidParameterf("invalid repository name: repository name (%s) should not have a scheme", term)
	}
	if limit == 0 {
		limit = 25
	}
	if limit < 1 || limit > 100 {
		return nil, errdefs.InvalidParameterf("limit %d is outside the range of [1, 100]", limit)
	}
	index, remote := splitSearchTerm(term)
	endpoint := hubIndex
	if index == "" {
		remote = strings.TrimPrefix(remote, "library/")
	} else {
		scheme := "https"
		if s.isInsecure(index) {
			scheme = "http"
		}
		endpoint = scheme + "://" + index + "/v1/"
	}
	ctx, cancel := context.WithTimeout(ctx, searchTimeout)
	defer cancel()
	u := endpoint + "search?q=" + url.QueryEscape(remote) + "&n=" + url.QueryEscape(fmt.Sprint(limit))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("error building request: %w", err))
	}
	req.Header.Set("X-Docker-Token", "true")
	if auth != nil && (auth.Username != "" || auth.Password != "") {
		req.SetBasicAuth(auth.Username, auth.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Unexpected status code %d", resp.StatusCode)
	}
	var body struct {
		Results []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			StarCount   int    `json:"star_count"`
			IsOfficial  bool   `json:"is_official"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("error decoding registry search results: %w", err)
	}
	out := make([]SearchResult, 0, len(body.Results))
	for _, r := range body.Results {
		out = append(out, SearchResult{Name: r.Name, Description: r.Description, StarCount: r.StarCount, IsOfficial: r.IsOfficial})
	}
	return out, nil
}

// splitSearchTerm splits a search term into its index ("" for Docker Hub)
// and the rest, as dockerd does.
func splitSearchTerm(term string) (index, rest string) {
	first, after, found := strings.Cut(term, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return "", term
	}
	if first == "docker.io" || first == "index.docker.io" {
		return "", after
	}
	return first, after
}
