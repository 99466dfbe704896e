package build

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/docker/docker/pkg/jsonmessage"

	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// postBuild is the classic build endpoint (`DOCKER_BUILDKIT=0 docker
// build`, testcontainers' FromDockerfile): the context tar is the body,
// the options are the query; the answer is Docker's JSON stream (stream
// lines, then aux with the image ID), errors before the first line are
// plain errors, later ones errorDetail.
func (r *Router) postBuild(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err)
	}
	q := req.Form
	if q.Get("remote") != "" {
		return errdefs.NotImplemented(errors.New("pier builds from an uploaded context only: remote contexts (a Git or HTTP URL) are not supported yet"))
	}
	breq := enginebuild.Request{
		Context:    req.Body,
		Dockerfile: q.Get("dockerfile"),
		Tags:       q["t"],
		Target:     q.Get("target"),
		Platform:   q.Get("platform"),
		NoCache:    httputils.BoolValue(req, "nocache"),
		Pull:       httputils.BoolValue(req, "pull"),
	}
	var err error
	if breq.BuildArgs, err = jsonStringMap(q.Get("buildargs"), "buildargs"); err != nil {
		return err
	}
	if breq.Labels, err = jsonStringMap(q.Get("labels"), "labels"); err != nil {
		return err
	}
	quiet := httputils.BoolValue(req, "q")
	out := httputils.NewJSONStream(w)
	show := func(line string) {
		if !quiet {
			out.Write(jsonmessage.JSONMessage{Stream: line})
		}
	}
	id, err := r.backend.Build(req.Context(), breq, show)
	if err != nil {
		return out.Fail(err)
	}
	aux, _ := json.Marshal(map[string]string{"ID": id})
	raw := json.RawMessage(aux)
	out.Write(jsonmessage.JSONMessage{Aux: &raw})
	if !quiet {
		out.Write(jsonmessage.JSONMessage{Stream: "Successfully built " + shortID(id) + "\n"})
		for _, t := range breq.Tags {
			out.Write(jsonmessage.JSONMessage{Stream: "Successfully tagged " + t + "\n"})
		}
	}
	return nil
}

// jsonStringMap reads a JSON object of strings (null values are left
// out, as dockerd leaves out a build argument without a value).
func jsonStringMap(s, what string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]*string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, errdefs.InvalidParameterf("invalid %s: %v", what, err)
	}
	out := map[string]string{}
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
