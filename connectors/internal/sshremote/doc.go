// Package sshremote is the SSH plumbing the connectors that manage hosts
// share: host-key checking (pins, known_hosts, trust on first use), dialing
// (directly or through one jump host connection), the login methods, and
// the runner that sends a POSIX sh script to a host as root, directly or
// through sudo (a sudo password never on a command line).
package sshremote
