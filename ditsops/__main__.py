from ditsops.cli.main import run

run()
