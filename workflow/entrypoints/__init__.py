"""Entry points: the CLI, the scheduler service. The only code that reads the clock."""
