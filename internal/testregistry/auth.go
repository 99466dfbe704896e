package testregistry

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
)

// token is what the token service of WithTokenAuth hands out.
const token = "pier-test-token"

// authenticates wraps next with basic authentication, or a token service,
// when the registry has credentials: a request without the right ones gets
// what a distribution registry with an htpasswd file (or a token
// service) answers.
func (r *Registry) authenticates(next http.Handler) http.Handler {
	if r.user == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case r.tokens && req.URL.Path == "/token":
			if !r.credentialsOK(req) {
				refuse(w, "incorrect username or password")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": token, "access_token": token})
		case r.tokens && req.Header.Get("Authorization") == "Bearer "+token:
			next.ServeHTTP(w, req)
		case r.tokens:
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="pier-test"`)
			refuse(w, "authentication required")
		case r.credentialsOK(req):
			next.ServeHTTP(w, req)
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="pier-test"`)
			refuse(w, "authentication required")
		}
	})
}

// credentialsOK says whether req carries the registry's credentials.
func (r *Registry) credentialsOK(req *http.Request) bool {
	user, password, ok := req.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(r.user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(password), []byte(r.password)) == 1
}

// refuse answers 401 UNAUTHORIZED with message, as a registry does.
func refuse(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"code": "UNAUTHORIZED", "message": message, "detail": nil}}})
	_, _ = w.Write(append(body, '\n'))
}

// searchResult is one result of the v1 search.
type searchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
}

// searches serves /v1/_ping and /v1/search (WithSearch) from the
// registry's catalog, and hands every other request to next.
func (r *Registry) searches(catalog, next http.Handler) http.Handler {
	if !r.search {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/v1/_ping":
			w.Header().Set("X-Docker-Registry-Standalone", "true")
			_, _ = w.Write([]byte("true"))
		case "/v1/search":
			term := req.URL.Query().Get("q")
			limit, err := strconv.Atoi(req.URL.Query().Get("n"))
			if err != nil || limit <= 0 {
				limit = 25
			}
			rec := httptest.NewRecorder()
			catalog.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/_catalog?n=1000", nil))
			var repos struct{ Repositories []string }
			_ = json.Unmarshal(rec.Body.Bytes(), &repos)
			// The catalog comes in map order: results in name order.
			sort.Strings(repos.Repositories)
			results := []searchResult{}
			for _, name := range repos.Repositories {
				if strings.Contains(name, term) && len(results) < limit {
					results = append(results, searchResult{Name: name, Description: "pier test image " + name})
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"num_results": len(results), "query": term, "results": results})
		default:
			next.ServeHTTP(w, req)
		}
	})
}
