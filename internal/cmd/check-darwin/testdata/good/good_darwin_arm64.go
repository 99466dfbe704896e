package good

import "github.com/Code-Hex/vz/v3"

func share() error {
	if vz.LinuxRosettaDirectoryShareAvailability() != vz.LinuxRosettaAvailabilityInstalled {
		return nil
	}
	cfg, err := vz.NewVirtioFileSystemDeviceConfiguration("rosetta")
	if err != nil {
		return err
	}
	s, err := vz.NewLinuxRosettaDirectoryShare()
	if err != nil {
		return err
	}
	cfg.SetDirectoryShare(s)
	return nil
}
