"""One module per CLI command; autograd_viz.cli registers them in COMMANDS."""
