#compdef ditsops

_ditsops_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _DITSOPS_COMPLETE=complete_zsh ditsops)
}

compdef _ditsops_completion ditsops
