// Package broker decides every connection the cage makes.
//
// The seccomp filter hands connect(2), sendto(2) with an address, every
// sendmsg(2) and sendmmsg(2), and listen(2) of the caged processes to the
// supervisor through seccomp user notification. For each one the broker
// copies the arguments out of the caged process once, judges its own copy
// against the Policy, and — when allowed — performs the call itself on the
// caged process's own socket (pidfd_getfd gives it the same open file
// description, so non-blocking sockets and EINPROGRESS behave as before),
// then answers the notification with the call's result. The kernel never
// reads the caged process's memory again, so another thread changing the
// address after the look changes nothing.
//
// # What it decides
//
//   - Named unix sockets: the path is opened once (O_PATH, relative paths
//     from the caller's own working directory), the opened inode's real
//     path is judged, and the connect goes to that very inode through
//     /proc/self/fd: a symlink or rename swapped in afterwards cannot change
//     what is reached. A socket with more than one name (a hard link) is
//     refused.
//   - Abstract unix sockets: performed from the thread that started the
//     command, which is in the command's own Landlock domain, so Landlock's
//     abstract-socket scope decides exactly as for the command.
//   - IPv4 and IPv6: loopback, link-local, private and other non-public
//     addresses only when listed in [network] hosts; public ones on the
//     allowed TCP ports; UDP by the udp setting ("dns": port 53 of the
//     resolvers in /etc/resolv.conf).
//   - listen(2) on an inet socket with no bound port, which would autobind
//     past Landlock's bind rules.
//
// # Limitations
//
// The supervisor performs the calls with its own credentials: a unix peer
// sees the supervisor's pid in SO_PEERCRED (the same uid and gid). Landlock
// does not see the brokered calls; its port and (ABI 9) unix rules stay in
// the ruleset and decide wherever the broker is not in the way. Abstract
// connects are performed one at a time.
package broker
