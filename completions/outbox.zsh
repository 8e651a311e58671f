#compdef outbox
# zsh completion for outbox
_outbox() {
	local -a words_found
	local cur=${words[-1]}
	if [[ $cur == -* ]]; then
		words_found=("${(@f)$(outbox ${words[2,-2]} $cur --generate-bash-completion 2>/dev/null)}")
	else
		words_found=("${(@f)$(outbox ${words[2,-2]} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n ${words_found[1]} ]]; then
		_describe 'values' words_found
	else
		_files
	fi
}
compdef _outbox outbox
