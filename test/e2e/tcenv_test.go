package e2e

import _ "unsafe" // for go:linkname

// tcDockerEnvFile is testcontainers-go's core.DockerEnvFile, the file
// whose existence makes it believe it runs inside a container ("/.dockerenv").
// The Testcontainers test points it at a file that exists, or one that
// does not, to run both ways on any machine: testcontainers-go has no
// public switch for it.
//
//go:linkname tcDockerEnvFile github.com/testcontainers/testcontainers-go/internal/core.DockerEnvFile
var tcDockerEnvFile string
