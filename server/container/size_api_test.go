package container_test

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestInspectAndListWithSize(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "sized", &container.Config{Cmd: []string{"true"}}, nil)

	info, _, err := cli.ContainerInspectWithRaw(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	// Never started: no writable disk yet, and the fake image has no size.
	if info.SizeRw == nil || info.SizeRootFs == nil || *info.SizeRw != 0 || *info.SizeRootFs != 0 {
		t.Fatalf("inspect --size: SizeRw %v SizeRootFs %v", info.SizeRw, info.SizeRootFs)
	}
	info, _, err = cli.ContainerInspectWithRaw(ctx, id, false)
	if err != nil || info.SizeRw != nil || info.SizeRootFs != nil {
		t.Fatalf("inspect without size: SizeRw %v SizeRootFs %v (%v)", info.SizeRw, info.SizeRootFs, err)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Size: true})
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("ps -s: %+v %v", list, err)
	}
}
