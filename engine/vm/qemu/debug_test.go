package qemu

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestDebugBoot(t *testing.T) {
	a := needAssets(t)
	d := tcgDriver(t)
	spec := testSpec(t, a, "pier.test=report "+os.Getenv("XARGS"))
	t0 := time.Now()
	m, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	readReport(t, m)
	t.Log("report", time.Since(t0))
	waitDone(t, m)
	t.Log("done", time.Since(t0), m.Err())
	b, _ := os.ReadFile(spec.ConsoleLog)
	if os.Getenv("SHOW") == "1" {
		t.Log(string(b))
	}
}
