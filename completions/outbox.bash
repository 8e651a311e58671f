# bash completion for outbox
_outbox() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local -a args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	local words
	if [[ $cur == -* ]]; then
		words=$(outbox "${args[@]}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$(outbox "${args[@]}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _outbox outbox
