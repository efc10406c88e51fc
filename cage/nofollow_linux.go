package cage

import "syscall"

const noFollow = syscall.O_NOFOLLOW
