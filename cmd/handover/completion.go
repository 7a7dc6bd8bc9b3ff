package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask the binary itself what comes next (urfave/cli's
// --generate-bash-completion), so they never fall behind the commands and
// flags; fish's script is generated from the same definition.
const bashCompletion = `# bash completion for handover: source it, or install it as
# /usr/share/bash-completion/completions/handover
_handover() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == -* ]]; then
		words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -o bashdefault -F _handover handover
`

const zshCompletion = `#compdef handover
# zsh completion for handover: put it in a directory of $fpath as _handover
_handover() {
	local -a opts
	local cur=${words[-1]}
	if [[ "$cur" == -* ]]; then
		opts=("${(@f)$(${words[1]} ${words[@]:1:#words[@]-2} $cur --generate-bash-completion 2>/dev/null)}")
	else
		opts=("${(@f)$(${words[1]} ${words[@]:1:#words[@]-2} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n "${opts[1]}" ]]; then
		_describe 'handover' opts
	else
		_files
	fi
}
compdef _handover handover
`

func completionCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: "bash:  handover completion bash > /usr/share/bash-completion/completions/handover\n" +
			"zsh:   handover completion zsh > \"${fpath[1]}/_handover\"\n" +
			"fish:  handover completion fish > ~/.config/fish/completions/handover.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(exitError, fmt.Errorf("completion: expected one SHELL argument: bash, zsh or fish"))
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				fmt.Fprint(s.out, bashCompletion)
			case "zsh":
				fmt.Fprint(s.out, zshCompletion)
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(s.out, script)
			default:
				return withCode(exitError, fmt.Errorf("completion: unknown shell %q: bash, zsh or fish", sh))
			}
			return nil
		},
	}
}

func manCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:        "man",
		Usage:       "print the manual page (roff), made from the commands' own help",
		Description: "handover man > /usr/share/man/man8/handover.8 (section 8: system administration)",
		Action: func(c *cli.Context) error {
			page, err := c.App.ToMan()
			if err != nil {
				return err
			}
			fmt.Fprint(s.out, page)
			return nil
		},
	}
}
