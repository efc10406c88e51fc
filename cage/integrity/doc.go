// Package integrity keeps code planted inside the cage from running outside
// it later.
//
// The cage may write anywhere in the project, and Landlock cannot carve
// .git/hooks or .git/config out of that grant. What is written there runs
// outside the cage the next time the user runs git: a hook, an fsmonitor,
// a pager, an alias, a filter. The supervisor, which stays outside the
// cage, guards those paths instead:
//
//	set, err := integrity.ProtectedSet(root, cfg.Protect)
//	w, err := integrity.Start(storeDir, set, func(e integrity.Event) { warn(e.String()) })
//	… the cage runs …
//	events, err := w.Close()
//
// and "aicage status" shows [LastSession].
//
// # What is protected
//
// [ProtectedSet] lists the paths; see its documentation. Most are kept
// byte for byte ([Exact]): content, permission bits and type, recursively
// for a directory, and a path that did not exist must not appear. Git
// config files ([GitConfig]) are judged by what they mean instead, because
// git itself edits them during ordinary work (git remote add, git branch
// -u, git push -u, git config user.email).
//
// # Git config by meaning
//
// The file is read with a parser that mirrors git's own (config.c:
// sections, "[section "sub"]" and the old "[section.sub]", quoting,
// escapes, continuation lines, comments, case-insensitive names) and
// refuses what it does not fully understand; a file it refuses is put back
// as it was. Each key is compared with the snapshot. A change to a key on
// the allowlist (allowlist.go) is kept and becomes the snapshot; any other
// change is undone: a new key is removed, a changed or deleted one gets
// its snapshot values back. The allowlist holds what git writes during
// ordinary work and keys that only hold data. Never on it: anything that
// names a program or a file to load (core.fsmonitor, core.hooksPath,
// core.sshCommand, core.pager, core.editor, core.askPass, pager.*, alias.*,
// filter.*, diff.*, merge.*, credential.*, include.*, includeIf.*,
// gpg.*, gc.recentObjectsHook, uploadpack.*, receive.*, url.*, protocol.*,
// remote.*.uploadpack, remote.*.receivepack, remote.*.vcs, core.worktree).
// Some allowed keys have their new values checked: a remote URL must reach
// another machine (a local repository's hooks run when the user pushes to
// it; "<helper>::" and unknown schemes run a git-remote-<helper> program),
// a branch's remote must be one the file defines, a submodule's update
// mode must not be "!command". A kept file is always one that reads back
// through our parser to what was judged, written in git's own layout, so
// a trick that git and we would read differently does not survive.
//
// # Restores
//
// The snapshot is taken at Start and stored in the store directory (0700,
// files 0600), which must be outside every grant of the cage; each Start
// replaces it, so what the user changes outside between sessions stands.
// During the session an inotify watch on the protected paths (not on the
// project: a build writing thousands of files causes no event) triggers a
// restore at once; every path is verified again, content and all, every
// second and at Close. Restores never follow a symlink: every operation is
// relative to a directory opened one component at a time with O_NOFOLLOW,
// and files are written under a temporary name in the same directory and
// renamed into place. A git config file is swapped into place instead
// (renameat2 RENAME_EXCHANGE), so that a file git renamed in while the
// restore was being written comes back out, is judged in turn and keeps
// its allowed edits (reconcileconfig_linux.go).
//
// # Limitations
//
//   - A new repository anywhere in the project but its root (git init in
//     a subdirectory, a cloned dependency, a new linked worktree, a
//     "gitdir: …" file) is not guarded: git run there later runs its
//     hooks and honours its config.
//   - Other state in .git that makes git run a command only when the user
//     asks for it is not guarded either: an "exec" line in a rebase in
//     progress (.git/rebase-merge), for instance.
//   - Programs that git finds on $PATH (a pager, a merge strategy, a
//     git-remote-<helper>) are only as safe as the directories on the
//     user's $PATH.
//   - After a supervisor is killed, the next Start restores the set to the
//     killed session's snapshot before it takes a new one, undoing also
//     what the user changed in between.
package integrity
