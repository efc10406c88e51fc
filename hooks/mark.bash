# The cage's mark for an interactive bash that aicage started: "(aicage) "
# before the prompt and "(aicage) DIR" as the terminal's title. aicage
# sources it after the private home's ~/.bashrc, with _aicage_mark (the
# marker, "" for none: AICAGE_PROMPT=0) and _aicage_title ("" for none:
# AICAGE_TITLE=0) set before it.
#
# A prompt framework (starship, a PROMPT_COMMAND that sets PS1) may set PS1
# at every prompt: the mark is added at every prompt, after every other
# PROMPT_COMMAND, unless PS1 shows "(aicage)" already (a prompt segment
# that reads $AICAGE). Nothing here starts a process.
#
# shellcheck shell=bash

_aicage_prompt() {
	local ret=$?
	if [[ -n ${_aicage_mark-} && $PS1 != *'(aicage)'* ]]; then
		PS1=$_aicage_mark$PS1
	fi
	if [[ -n ${_aicage_title-} && -t 1 && ${TERM:-dumb} != dumb ]]; then
		printf '\e]2;(aicage) %s\a' "${PWD//[[:cntrl:]]/}"
	fi
	return "$ret"
}

_aicage_mark_install() {
	local c
	for c in "${PROMPT_COMMAND[@]}"; do
		[[ ";$c;" == *";_aicage_prompt;"* ]] && return 0
	done
	if [[ -v PROMPT_COMMAND && ${PROMPT_COMMAND@a} == *a* ]]; then
		PROMPT_COMMAND+=(_aicage_prompt)
	else
		# shellcheck disable=SC2128,SC2178
		PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND;}_aicage_prompt"
	fi
}
_aicage_mark_install
