// Package testimages builds small, deterministic container images in memory
// for pier's tests: the image service, end-to-end tests with the docker CLI
// and container tests in real VMs.
//
// Every image is made from Debian's busybox-static package (fetched by
// `make testdata` into <repo>/testdata/cache) and has fixed timestamps, so
// its digests are the same on every build. The root filesystem holds
// /bin/busybox with a symlink per applet, /etc/passwd and /etc/group (root 0,
// nobody 65534, app 1000:1000 with supplementary group extra 1001), /tmp
// (mode 1777), /root and /home/app (owned by 1000).
//
// The catalogue (repository:tag, form, platforms):
//
//	busybox:latest        OCI index        linux/amd64, linux/arm64/v8
//	busybox:dockerlist    Docker list      linux/amd64, linux/arm64/v8
//	busybox-amd64:latest  Docker manifest  linux/amd64 (= the dockerlist child)
//	busybox-arm64:latest  OCI manifest     linux/arm64/v8 (= the OCI index child)
//	app:latest            OCI manifest     linux/amd64, with USER, WORKDIR,
//	                                       ENTRYPOINT, CMD, EXPOSE, HEALTHCHECK,
//	                                       labels and an extra env var
//	layers:latest         Docker manifest  linux/amd64, four layers with a
//	                                       whiteout and an opaque directory
//
// Tests call Require, which skips (or fails under CI=true) when the
// packages have not been fetched.
package testimages
