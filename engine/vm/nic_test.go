package vm

import (
	"os"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestCheckNICs(t *testing.T) {
	attach := func(bool) (*os.File, error) { return nil, nil }
	if err := CheckNICs("v", []NIC{{MAC: "02:42:ac:11:00:02", Attach: attach}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []NIC{{MAC: "nope", Attach: attach}, {MAC: "02:42:ac:11:00:02"}} {
		if err := CheckNICs("v", []NIC{bad}); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
