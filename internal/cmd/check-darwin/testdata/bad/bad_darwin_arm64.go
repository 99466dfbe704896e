package bad

import "github.com/Code-Hex/vz/v3"

// Wrong on purpose: the tag must be a string, and vz has no such function.
func share() error {
	_, err := vz.NewVirtioFileSystemDeviceConfiguration(42)
	vz.NoSuchFunction()
	return err
}
