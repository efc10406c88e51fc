# aicage shell hook for zsh: eval "$(aicage hook zsh)" in ~/.zshrc.
#
# Outside a cage (the outer half): at each prompt, when $PWD changed or
# the trust store's stamp did (every 'aicage allow', 'deny' or 'edit'
# rewrites it), one call of 'aicage hook decide' says what to do; it
# prints shell code that only ever sets _aicage_skip or calls
# _aicage_enter. Otherwise no process is started: the stamp is read with
# the read builtin.
#
# In a shell that the hook started in a cage (the inner half, installed by
# the .zshrc aicage writes for it): when $PWD leaves the project, write
# where to go for the outer shell and exit.

# The aicage binary; 'aicage hook zsh' replaces this line with its own
# path, quoted.
typeset -g _aicage_bin=aicage
# The trust store's stamp; 'aicage hook zsh' replaces this line with its
# path, quoted.
typeset -g _aicage_stamp=

_aicage_hook() {
	local ret=$? gen=
	emulate -L zsh
	[[ -z ${AICAGE-} ]] || return ret
	# read before deciding: a change after this read shows at the next
	# prompt
	[[ -f $_aicage_stamp ]] && read -r gen 2>/dev/null <"$_aicage_stamp"
	if [[ $gen != "${_aicage_gen-}" ]]; then
		typeset -g _aicage_gen=$gen
		typeset -g _aicage_pwd=
	fi
	while [[ $PWD != "${_aicage_pwd-}" ]]; do
		typeset -g _aicage_pwd=$PWD
		eval "$("$_aicage_bin" hook decide zsh "${_aicage_skip-}")"
	done
	return ret
}

# _aicage_enter SKIP FILE: run the caged shell; FILE tells where it went.
# Its content is a path and nothing else: it is never evaluated.
_aicage_enter() {
	emulate -L zsh
	local out=$2 where=
	typeset -g _aicage_skip=$1
	AICAGE_HOOK_OUT=$out _AICAGE_HOOK_DIRS=${(F)dirstack} "$_aicage_bin" shell
	IFS= read -r -d '' where <"$out" || :
	command rm -f -- "$out"
	case $where in
	L/*)
		# the caged shell popped the stack it was given: pop it here too
		if [[ ${dirstack[1]-} == "${where#L}" ]]; then
			builtin popd >/dev/null
		else
			builtin cd -- "${where#L}"
		fi && typeset -g _aicage_skip=
		;;
	X/*) [[ ${where#X} == "$PWD" ]] || builtin cd -- "${where#X}" || return 0 ;;
	esac
}

_aicage_inner() {
	local ret=$?
	emulate -L zsh
	if [[ $PWD != "${_aicage_pwd-}" ]]; then
		if _aicage_inside; then
			typeset -g _aicage_pwd=$PWD
			printf 'X%s' "$PWD" 2>/dev/null >|"$_AICAGE_HOOK_WHERE"
		else
			printf 'L%s' "$PWD" 2>/dev/null >|"$_AICAGE_HOOK_WHERE"
			exit 0
		fi
	fi
	return ret
}

# _aicage_inside: whether $PWD is in the project, logically or physically.
_aicage_inside() {
	emulate -L zsh
	local r
	for r in "${_AICAGE_HOOK_ROOT-}" "${AICAGE_ROOT-}"; do
		[[ -n $r && ($PWD == "$r" || $PWD == "$r"/*) ]] && return 0
	done
	[[ ${PWD:A} == "$AICAGE_ROOT" || ${PWD:A} == "$AICAGE_ROOT"/* ]]
}

() {
	emulate -L zsh
	local fn=_aicage_hook
	if [[ -n ${AICAGE-} && -n ${_AICAGE_HOOK_WHERE-} ]]; then
		fn=_aicage_inner
		# the outer shell's directory stack, so that popd leaves the
		# project the way pushd entered it
		if [[ -n ${_AICAGE_HOOK_DIRS-} ]]; then
			dirstack=(${(M)${(f)_AICAGE_HOOK_DIRS}:#/*})
			unset _AICAGE_HOOK_DIRS
		fi
	fi
	typeset -ga precmd_functions
	if (( ! ${precmd_functions[(I)$fn]} )); then
		precmd_functions=($fn $precmd_functions)
	fi
}
