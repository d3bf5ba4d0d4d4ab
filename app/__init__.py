"""Entry points: the `relance` CLI, the web console and the wiring of settings and adapters."""
