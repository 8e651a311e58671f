package cmd

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Shell completion scripts. bash and zsh ask outbox itself for the words
// that fit (urfave/cli's --generate-bash-completion), so they follow every
// new command and flag; fish gets a static script generated from the
// commands. completions/ holds the output of 'outbox completion SHELL', and
// a test keeps it current.

const bashCompletion = `# bash completion for outbox
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
`

const zshCompletion = `#compdef outbox
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
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &UsageError{Err: fmt.Errorf("completion takes one shell name, got %q", c.Args().Slice()), Hint: "outbox completion bash|zsh|fish"}
			}
			return writeCompletion(c.App, c.Args().First(), c.App.Writer)
		},
	}
}

func writeCompletion(app *cli.App, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		_, err := io.WriteString(w, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(w, zshCompletion)
		return err
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, s)
		return err
	}
	return &UsageError{Err: fmt.Errorf("unknown shell %q", shell), Hint: "outbox completion bash|zsh|fish"}
}
