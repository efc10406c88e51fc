// Package project turns a project's .aicage.toml into the cage.Spec that
// cage.Compile takes: it finds the file, reads it once, decodes it
// strictly, resolves its profile chain, merges the per-command sections,
// refuses grants that would make the cage meaningless, reads the env files,
// keeps the trust store and writes new configs from templates. It takes the
// home, the environment and the working directory as arguments (a Host) and
// prints nothing: the cmd/aicage package does the talking.
//
// # Reading
//
// [Discover] walks up from a directory to the nearest .aicage.toml and
// reads it once, through a 1 MiB limit, refusing symlinks and anything but
// a regular file; the bytes hashed for trust are the bytes decoded.
// [Parse] decodes them with unknown keys refused; every error is an
// [*Error] naming file:line:col, the key and what was expected, with a
// "did you mean" when a known key is near.
//
// # Merging
//
// A config's profile is resolved through extends (config [profiles.NAME]
// first, then the built-ins offline, aiAgent and devNet, then
// $XDG_CONFIG_HOME/aicage/profiles/NAME.toml); the chain is merged base
// first, then the config's top level, then [commands.NAME]. Lists are
// unioned, never replaced, and each entry keeps the source that first asked
// for it; scalars (udp, ssh.agent, exec.system, lifecycle) are overridden by
// the last layer that writes them. [env] is pass < files < set, later wins.
// A name in pass that is not set outside is skipped; a missing env file is
// an error, because a config that says it needs one would otherwise run
// with less than it asked for. Env files must lie in the project and are
// opened beneath its root, so a symlink planted by the cage cannot pull a
// file from outside into the next cage's environment.
//
// # Refused grants
//
// Landlock cannot carve a denial out of a grant, so a grant that is,
// contains or lies in a protected place is refused before Compile sees it:
// / and the real home (the grant may not be or contain them), ~/.ssh,
// ~/.gnupg and other key stores, shell and session start-up files, aicage's
// own configuration, and, for writes, git's global configuration, direnv's
// trust store and the aicage binary. Listing the exact path under
// [filesystem] dangerously_allow lifts the refusal, except for aicage's
// trust store and state, which no config can grant. Symlinks are followed
// for the check. The project root itself may not be any of these.
//
// # Trust
//
// [TrustStore] keeps direnv-like records, stricter: only the last allowed
// content of a path is trusted, any edit blocks it again, a copy at another
// path needs its own trust, and [Grants] and [DiffGrants] say what a config
// asks for and what changed since it was trusted.
package project
