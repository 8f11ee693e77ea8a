from findly_infra.cli import run

run()
