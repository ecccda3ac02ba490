"""`coopcast` command groups, each registered in pipelines/cli.py."""
