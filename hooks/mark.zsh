# The cage's mark for an interactive zsh that aicage started: "(aicage) "
# before the prompt and "(aicage) DIR" as the terminal's title. aicage
# sources it after the private home's ~/.zshrc, with _aicage_mark (the
# marker, "" for none: AICAGE_PROMPT=0) and _aicage_title ("" for none:
# AICAGE_TITLE=0) set before it.
#
# A prompt framework may set PROMPT at every prompt: the mark is added in
# the last precmd function, unless PROMPT shows "(aicage)" already (a
# prompt segment that reads $AICAGE). Nothing here starts a process.

_aicage_prompt() {
	local ret=$?
	emulate -L zsh
	if [[ -n ${_aicage_mark-} && $PROMPT != *'(aicage)'* ]]; then
		PROMPT=$_aicage_mark$PROMPT
	fi
	if [[ -n ${_aicage_title-} && -t 1 && ${TERM:-dumb} != dumb ]]; then
		print -rn -- $'\e]2;(aicage) '"${PWD//[[:cntrl:]]/}"$'\a'
	fi
	return ret
}

() {
	emulate -L zsh
	typeset -ga precmd_functions
	if (( ! ${precmd_functions[(I)_aicage_prompt]} )); then
		precmd_functions+=(_aicage_prompt)
	fi
}
