// Package crashpoint lets a test build of handover kill itself while a
// change is in flight on its target: after the Nth byte of a remote script
// was sent, after an LDAP modify left for the server but before its
// answer, in the middle of a Vault API write. The kill matrix
// (connectortest.KillMatrix) uses it to prove that a crash at any instant
// of any change is recovered.
//
// The engine marks the target calls that change something (Enter around
// SetCredentials and Apply; a connector may mark a narrower operation,
// such as the LDAP connector's modify), and the transports count the bytes
// they send inside a marked call: the SSH runner through Reader (the
// script and data on a remote command's stdin), the LDAP and Vault
// clients through Conn (every byte written to the server's socket).
//
// Only a build with the tag handover_crashtest has the kill (on.go). In
// the shipped binary (off.go) Enter does nothing, Conn and Reader return
// what they are given, and no environment variable is read: the same
// test that proves the shipped binary has no HANDOVER_CRASH_AT
// (cmd/handover TestShippedBinaryHasNoCrashHook) proves it has none of
// this package's variable either.
package crashpoint
