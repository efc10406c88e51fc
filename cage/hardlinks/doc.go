// Package hardlinks finds the regular files in a cage's writable trees that
// have more than one name, and replaces them with copies.
//
// Landlock judges paths, not inodes. A file in the project that is also
// hard-linked from outside it — pnpm's content-addressed store, uv's cache,
// a `cp -al` backup, a `git clone` of a local repository — is as writable
// from the cage as any project file, and every other name of the inode
// changes with it. aicage looks for such files at every entry: Find walks
// the trees, counts the names of each multiply-linked file it meets, and
// reports those with names it did not meet. Break gives each one an inode
// of its own.
//
// # Cost
//
// A full walk reads every directory and stats every regular file (the link
// count is in no directory entry). A cache of the previous walk, kept
// outside every grant, lets the next walk stat each directory once and read
// again only those whose key changed; when none did, the last walk's
// summary stands (Options.Summary). Verify stats the links again before a
// refusal, so that a name elsewhere that went away since the cache was
// written no longer counts. The key is the directory's device,
// inode, ctime and mtime: ctime because a process may set a directory's
// mtime back with utimes (Landlock does not restrict metadata), and nobody
// but the kernel sets ctime.
//
// # Limitations
//
// A directory's times change when a name is added to or removed from it,
// not when one of its files gains a name elsewhere: a link made from outside
// to a file the cache has already seen with one link is found only by a full
// walk. A cache older than MaxCacheAge is ignored, which bounds how long
// such a link goes unseen, and Options.Full (`aicage unlink-hardlinks`)
// always walks in full. The other names of an inode cannot be listed
// without walking the whole filesystem: a name outside the trees is known
// only as a count.
package hardlinks
