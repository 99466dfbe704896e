package container

import (
	"net/http"

	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/server/httputils"
)

// postCommit is docker commit: POST /commit?container=&repo=&tag=&author=
// &comment=&pause=&changes= (repeated), with an optional container config
// as the body. pause defaults to true, as in dockerd.
func (r *Router) postCommit(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return err
	}
	var body *container.Config
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	tag, err := compat.CommitTag(req.Form.Get("repo"), req.Form.Get("tag"))
	if err != nil {
		return err
	}
	opts := engine.CommitOptions{
		Tag:     tag,
		Author:  req.Form.Get("author"),
		Comment: req.Form.Get("comment"),
		Pause:   !req.Form.Has("pause") || httputils.BoolValue(req, "pause"),
		Changes: req.Form["changes"],
	}
	if body != nil {
		cfg, _, err := compat.ContainerConfigFromAPI(body, nil)
		if err != nil {
			return err
		}
		opts.Config = &cfg
	}
	id, err := r.backend.ContainerCommit(req.Context(), req.Form.Get("container"), opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}
