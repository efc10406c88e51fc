# aicage shell hook for bash: eval "$(aicage hook bash)" in ~/.bashrc.
#
# Outside a cage (the outer half): at each prompt, when $PWD changed or
# the trust store's stamp did (every 'aicage allow', 'deny' or 'edit'
# rewrites it), one call of 'aicage hook decide' says what to do; it
# prints shell code that only ever sets _aicage_skip or calls
# _aicage_enter. Otherwise no process is started: the stamp is read with
# the read builtin.
#
# In a shell that the hook started in a cage (the inner half, installed by
# the rc file aicage writes for it): when $PWD leaves the project, write
# where to go for the outer shell and exit.
#
# shellcheck shell=bash

# The aicage binary; 'aicage hook bash' replaces this line with its own
# path, quoted.
_aicage_bin=aicage
# The trust store's stamp; 'aicage hook bash' replaces this line with its
# path, quoted.
_aicage_stamp=

_aicage_hook() {
	local ret=$? gen=
	[[ -z ${AICAGE-} ]] || return "$ret"
	# read before deciding: a change after this read shows at the next
	# prompt
	[[ -f $_aicage_stamp ]] && read -r gen 2>/dev/null <"$_aicage_stamp"
	if [[ $gen != "${_aicage_gen-}" ]]; then
		_aicage_gen=$gen
		_aicage_pwd=
	fi
	while [[ $PWD != "${_aicage_pwd-}" ]]; do
		_aicage_pwd=$PWD
		eval "$("$_aicage_bin" hook decide bash "${_aicage_skip-}")"
	done
	return "$ret"
}

# _aicage_enter SKIP FILE: run the caged shell; FILE tells where it went.
# Its content is a path and nothing else: it is never evaluated.
_aicage_enter() {
	local out=$2 where='' dirs=''
	_aicage_skip=$1
	printf -v dirs '%s\n' "${DIRSTACK[@]:1}"
	AICAGE_HOOK_OUT=$out _AICAGE_HOOK_DIRS=$dirs "$_aicage_bin" shell
	IFS= read -r -d '' where <"$out" || :
	command rm -f -- "$out"
	case $where in
	L/*)
		# the caged shell popped the stack it was given: pop it here too
		if [[ ${DIRSTACK[1]-} == "${where#L}" ]]; then
			builtin popd >/dev/null
		else
			builtin cd -- "${where#L}"
		fi && _aicage_skip=
		;;
	X/*) [[ ${where#X} == "$PWD" ]] || builtin cd -- "${where#X}" || return 0 ;;
	esac
}

_aicage_inner() {
	local ret=$?
	if [[ $PWD != "${_aicage_pwd-}" ]]; then
		if _aicage_inside; then
			_aicage_pwd=$PWD
			printf 'X%s' "$PWD" 2>/dev/null >|"$_AICAGE_HOOK_WHERE"
		else
			printf 'L%s' "$PWD" 2>/dev/null >|"$_AICAGE_HOOK_WHERE"
			builtin exit 0
		fi
	fi
	return "$ret"
}

# _aicage_inside: whether $PWD is in the project, logically or physically.
_aicage_inside() {
	local r p
	for r in "${_AICAGE_HOOK_ROOT-}" "${AICAGE_ROOT-}"; do
		[[ -n $r && ($PWD == "$r" || $PWD == "$r"/*) ]] && return 0
	done
	p=$(builtin pwd -P 2>/dev/null) || return 1
	[[ $p == "$AICAGE_ROOT" || $p == "$AICAGE_ROOT"/* ]]
}

# _aicage_seed: give the caged shell the outer shell's directory stack, so
# that popd leaves the project the way pushd entered it.
_aicage_seed() {
	local dirs i
	mapfile -t dirs <<<"$_AICAGE_HOOK_DIRS"
	for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
		[[ ${dirs[i]} == /* ]] && builtin pushd -n -- "${dirs[i]}" >/dev/null 2>&1
	done
	unset _AICAGE_HOOK_DIRS
}

_aicage_install() {
	local fn=_aicage_hook
	if [[ -n ${AICAGE-} && -n ${_AICAGE_HOOK_WHERE-} ]]; then
		fn=_aicage_inner
		[[ -n ${_AICAGE_HOOK_DIRS-} ]] && _aicage_seed
	fi
	local c
	for c in "${PROMPT_COMMAND[@]}"; do
		[[ ";$c;" == *";$fn;"* ]] && return 0
	done
	if [[ -v PROMPT_COMMAND && ${PROMPT_COMMAND@a} == *a* ]]; then
		PROMPT_COMMAND=("$fn" "${PROMPT_COMMAND[@]}")
	else
		# a string of commands, as before bash 5.1
		# shellcheck disable=SC2128,SC2178
		PROMPT_COMMAND="$fn${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
	fi
}
_aicage_install
