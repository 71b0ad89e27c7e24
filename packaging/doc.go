// Package packaging holds the Debian package of xmpp-invites: deb.sh builds
// it with nfpm (nfpm.yaml), version.sh derives its version from git, and
// xmpp-invites.service and scripts/ are the systemd unit and the maintainer
// scripts it installs. The package's Go code is its tests, which build the
// package once and check its contents, its unit and the packaged binary.
package packaging
