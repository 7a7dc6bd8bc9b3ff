// Package ssh is the connector for Linux hosts reached over SSH (target
// type "ssh"): Debian/Ubuntu and RHEL-family, with or without a running
// systemd.
//
// Inventory opens one connection per host (reused for every command of
// the run), at most `parallel` hosts at once, each bounded by
// `host_timeout`, and sends one read-only POSIX sh script on stdin: one
// round trip per host. It reads the OS, kernel and hardware, packages with
// their dpkg state (rc included), enabled and running services (from unit
// files and processes when systemctl has no manager to ask), listening
// ports, local accounts and why each is an admin, sudoers rules, every
// authorized_keys file sshd reads (AuthorizedKeysFile from `sshd -T`),
// crontabs, and the agents of the built-in catalogue (catalog.yaml,
// extensible per playbook). Every finding says whether and why it belongs
// to the outgoing provider.
//
// Plan is pure. Apply edits files by compare-and-swap (the file must still
// be what was read), atomically, keeping mode and owner, with visudo
// checking sudoers before it is replaced. Passwords are hashed locally
// (SHA-512 crypt) and set with chpasswd -e on stdin. Host keys are always
// checked: known_hosts, pinned fingerprints, or trust on first use that is
// recorded in the journal.
//
// See docs/connectors/ssh.md for the settings and what is changed how.
package ssh
